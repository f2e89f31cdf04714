// Trainers and learners use the topology diagrams: drawn on the server (whole with JavaScript
// off), a packet walk driven by the keyboard, turn-up tasks that light up their elements.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { portalForSuite, waitForHydration } from '../support/portal.mjs';

const artifacts = resolve(import.meta.dirname, '..', 'artifacts');

// Counts the distinct colours of a screenshot (every 3rd pixel): a page showing a diagram
// has hundreds (text, accents, outlines, anti-aliasing); a blank or unstyled one a handful.
async function distinctColours(browser, png) {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d');
      context.drawImage(bitmap, 0, 0);
      const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
      const colours = new Set();
      for (let i = 0; i < data.length; i += 12) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      return colours.size;
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

async function screenshot(browser, page, name) {
  const png = await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const colours = await distinctColours(browser, png);
  assert.ok(colours > 150, `${name}: only ${colours} colours — blank?`);
}

describe('the topology diagrams', () => {
  const suite = portalForSuite();
  before(() => mkdirSync(artifacts, { recursive: true }));


  test('the hardware and Cilium views render with JavaScript disabled', async () => {
    const context = await suite.browser.newContext({ javaScriptEnabled: false, viewport: { width: 1600, height: 1000 } });
    const page = await context.newPage();
    for (const [path, name, texts] of [
      ['/topology/hardware', 'hardware', ['Load-balancer appliance', 'Router edge', 'host-1', 'Key pair']],
      ['/topology/cilium', 'cilium', ['Gateway api-prod', 'HTTPRoute api-prod', 'Service api', 'node-3', 'BGP advertisement']],
    ]) {
      const response = await page.goto(`${suite.portal.url}${path}`);
      assert.equal(response.status(), 200);
      assert.equal(await page.getAttribute('body', 'data-hydrated'), null, 'no script ran');
      const svg = page.locator('figure svg.topo');
      await svg.waitFor();
      const box = await svg.boundingBox();
      assert.ok(box.width > 500 && box.height > 600, `${path}: the diagram is laid out (${box.width}×${box.height})`);
      for (const text of texts) {
        assert.ok(await page.locator('svg.topo text', { hasText: text }).first().isVisible(), `${path}: ${text}`);
      }
      assert.ok((await page.locator('svg.topo .topo-el').count()) >= 8);
      assert.ok((await page.locator('.topo-alt dt').count()) >= 8, 'the text version is in the page');
      await screenshot(suite.browser, page, `topology-${name}-no-javascript`);
    }
    // The walk steps are links: without JavaScript, Next is a page load away.
    await page.goto(`${suite.portal.url}/topology/walk/arp`);
    await page.click('[data-testid=walk-next]');
    await page.locator('[data-testid=walk-step][data-step="2"]').waitFor();
    await context.close();
  });

  test('every view renders, in the light and the dark theme, and is not blank', async () => {
    for (const colorScheme of ['light', 'dark']) {
      const context = await suite.browser.newContext({ colorScheme, viewport: { width: 1600, height: 1000 } });
      const page = await context.newPage();
      const problems = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(String(error)));
      for (const [path, name] of [
        ['/topology', 'index'],
        ['/topology/compare', 'compare'],
        ['/topology/hardware', 'hardware'],
        ['/topology/cilium', 'cilium'],
        ['/topology/cilium?environment=dev', 'cilium-dev'],
        ['/topology/applications/api', 'application-api'],
        ['/topology/walk/arp?step=4', 'walk-arp'],
        ['/topology/walk/bgp?step=4&caveat=frr-vm', 'walk-bgp-frr-vm'],
      ]) {
        const response = await page.goto(`${suite.portal.url}${path}`);
        assert.equal(response.status(), 200, path);
        await waitForHydration(page);
        await screenshot(suite.browser, page, `topology-${name}${colorScheme === 'dark' ? '-dark' : ''}`);
      }
      assert.deepEqual(problems, [], 'no script error and no CSP violation');
      await context.close();
    }
  });

  test('the packet walk advances with the arrow keys and shows the caveat step', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${suite.portal.url}/topology/walk/arp?caveat=gateway-label`);
    await waitForHydration(page);
    const step = page.locator('[data-testid=walk-step]');
    assert.equal(await step.getAttribute('data-step'), '1');
    await page.keyboard.press('ArrowRight');
    await page.locator('[data-testid=walk-step][data-step="2"]').waitFor();
    assert.match(page.url(), /step=2/, 'each step has its own URL');
    await page.keyboard.press('ArrowRight');
    await page.locator('[data-testid=walk-step][data-step="3"]').waitFor();
    assert.equal(await step.getAttribute('data-stops'), 'true');
    assert.match(await step.textContent(), /no node answers/);
    assert.match(await step.textContent(), /cilium-gateway-api-prod/);
    assert.ok(await page.locator('#walk-router-core.walk-failed').count(), 'the router is marked where it stops');
    await screenshot(suite.browser, page, 'topology-walk-arp-caveat');
    await page.keyboard.press('ArrowRight');
    await page.waitForTimeout(300);
    assert.equal(await step.getAttribute('data-step'), '3', 'the walk stops: no step after the caveat');
    await page.keyboard.press('ArrowLeft');
    await page.locator('[data-testid=walk-step][data-step="2"]').waitFor();

    // FRR on a VM: forwarding into the cluster fails, the router itself gets through.
    await page.goto(`${suite.portal.url}/topology/walk/bgp?caveat=frr-vm`);
    await waitForHydration(page);
    for (const n of [2, 3, 4]) {
      await page.keyboard.press('ArrowRight');
      await page.locator(`[data-testid=walk-step][data-step="${n}"]`).waitFor();
    }
    assert.equal(await step.getAttribute('data-stops'), 'true');
    assert.match(await step.textContent(), /virtual machine/);
    assert.ok(await page.locator('#walk-link-router-itself.walk-works').count());
    assert.ok(await page.locator('#walk-link-router-core-gateway.walk-failed').count());
    await screenshot(suite.browser, page, 'topology-walk-bgp-caveat');

    // Auto-play goes on by itself and stops at the end.
    await page.goto(`${suite.portal.url}/topology/walk/arp?step=8`);
    await waitForHydration(page);
    await page.click('[data-testid=walk-play]');
    await page.locator('[data-testid=walk-step][data-step="9"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-testid=walk-play][aria-pressed="false"]').waitFor();
    await page.close();
  });

  test('focusing or hovering a turn-up task highlights its elements', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${suite.portal.url}/topology/compare`);
    await waitForHydration(page);
    const stroke = (selector) => page.$eval(selector, (e) => getComputedStyle(e).strokeWidth);
    const opacity = (selector) => page.$eval(selector, (e) => getComputedStyle(e).opacity);
    assert.equal(await stroke('#cilium-pool .topo-shape'), '1.5px');

    await page.focus('[data-task="k8s-ip-pool"] a');
    assert.equal(await stroke('#cilium-pool .topo-shape'), '4px', 'the VIP pool stands out');
    assert.equal(await stroke('#cilium-gateway .topo-shape'), '4px', 'and the Gateway whose VIP it assigns');
    await page.waitForFunction(() => getComputedStyle(document.querySelector('#cilium-service')).opacity === '0.3');
    assert.equal(await opacity('#cilium-service'), '0.3', 'the rest steps back');
    assert.equal(await page.getAttribute('[data-task="k8s-ip-pool"] a', 'href'), '/pools', 'the task links to its page');
    await screenshot(suite.browser, page, 'topology-compare-task-focused');

    await page.focus('[data-task="hw-appliance"]');
    assert.equal(await stroke('#hardware-appliance .topo-shape'), '4px');
    assert.equal(await stroke('#cilium-pool .topo-shape'), '1.5px', 'the previous task lets go');

    await page.locator('body').focus();
    await page.hover('[data-task="k8s-keys"]');
    assert.equal(await stroke('#cilium-certificate .topo-shape'), '4px');
    await page.close();
  });

  test('the client networks and routers drawn are the ones stored with the environment', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${suite.portal.url}/environments/dev/edit`);
    await waitForHydration(page);
    await page.fill('#env-clients', '192.168.99.0/24\n10.60.0.0/16');
    await page.fill('#env-routers', 'branch 10.60.0.1\ngw 192.168.101.1');
    await page.locator('[data-testid=checklist-clear]').waitFor();
    await page.click('[data-testid=save-environment]');
    await page.waitForURL(`${suite.portal.url}/environments/dev`);
    await page.getByText('branch (10.60.0.1) → gw (192.168.101.1)').waitFor();

    await page.goto(`${suite.portal.url}/topology/cilium?environment=dev`);
    for (const text of ['10.60.0.0/16', 'Router branch', 'Router gw']) {
      assert.ok(await page.locator('svg.topo text', { hasText: text }).first().isVisible(), text);
    }
    assert.equal(await page.locator('svg.topo text', { hasText: 'Router edge' }).count(), 0);
    await page.close();
  });

  test('the live view draws what the cluster runs, each VIP announced or not', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(`${suite.portal.url}/applications`);
    await waitForHydration(page);
    const dev = page.locator('[data-application=api] [data-environment=dev]');
    await dev.getByRole('button', { name: 'Submit to dev' }).click();
    await dev.locator('.progress[data-status=ready]').waitFor({ timeout: 30000 });

    await page.goto(`${suite.portal.url}/topology/live/api?environment=dev`);
    await waitForHydration(page);
    for (const text of ['Gateway api-dev', 'Service cilium-gateway-api-dev', 'Node node-1']) {
      assert.ok(await page.locator('svg.topo text', { hasText: text }).first().isVisible(), text);
    }
    assert.equal(await page.locator('svg.topo .topo-el.walk-works').count(), 1, 'the announced VIP is marked');
    assert.match(await page.textContent('main'), /announced by L2 policy/);
    await screenshot(suite.browser, page, 'topology-live');
    await page.close();
  });
});
