// The foundation: server rendering, hydration, navigation, 404, the API's field errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { portalForSuite, waitForHydration } from '../support/portal.mjs';

const sections = [
  ['/', 'Overview'],
  ['/topology', 'Topology'],
  ['/pools', 'IP Pools'],
  ['/certificates', 'Certificates'],
  ['/applications', 'Applications'],
  ['/checklist', 'Checklist'],
];

describe('the portal shell', () => {
  const suite = portalForSuite();

  test('the overview is rendered on the server: its text is there with JavaScript disabled', async () => {
    const context = await suite.browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const response = await page.goto(suite.portal.url);
    assert.equal(response.status(), 200);
    assert.match(await page.textContent('main'), /What Gatehouse does/);
    const rows = await page.locator('[data-testid=environments-table] tbody tr').allTextContents();
    assert.equal(rows.length, 2);
    assert.match(rows[0], /dev/);
    assert.match(rows[1], /prod/);
    await context.close();
  });

  test('hydration works: the theme toggle changes the theme, with no CSP violation', async () => {
    const context = await suite.browser.newContext({ colorScheme: 'light' });
    const page = await context.newPage();
    const problems = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    await page.goto(suite.portal.url);
    await waitForHydration(page);
    const before = await page.evaluate(() => document.documentElement.dataset.theme ?? null);
    assert.equal(before, null, 'no choice made yet: the OS preference applies');
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const lightBackground = await background();
    await page.click('[data-testid=theme-toggle]');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.notEqual(await background(), lightBackground);
    await page.click('[data-testid=theme-toggle]');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    // The choice is remembered by the server on the next request.
    await page.click('[data-testid=theme-toggle]');
    await page.reload();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('every page loads its own chunk and hydrates, one after another, with no console error', async () => {
    // Each page is a lazy route with its own WASM chunk; loading pages in quick succession
    // once let a page go out with the fallback CSP, which blocked its chunk.
    const page = await suite.browser.newPage();
    const problems = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${page.url()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`${page.url()}: ${error}`));
    for (const [href] of [...sections, ...sections]) await page.goto(suite.portal.url + href);
    for (const [href] of sections) {
      await page.goto(suite.portal.url + href);
      await waitForHydration(page);
    }
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('every navigation link answers 200, on the server and after hydration', async () => {
    const page = await suite.browser.newPage();
    for (const [href] of sections) {
      const response = await page.goto(suite.portal.url + href);
      assert.equal(response.status(), 200, href);
    }
    await page.goto(suite.portal.url);
    await waitForHydration(page);
    for (const [href, label] of sections) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
      await page.waitForURL(suite.portal.url + href);
      assert.equal(
        await page.getByRole('navigation', { name: 'Main' }).locator('[aria-current=page]').textContent(),
        label,
      );
      assert.ok((await page.locator('h1').textContent()).length > 0, href);
    }
    await page.close();
  });

  test('an unknown URL shows the 404 page with status 404', async () => {
    const page = await suite.browser.newPage();
    const response = await page.goto(`${suite.portal.url}/no/such/page`);
    assert.equal(response.status(), 404);
    assert.match(await page.textContent('main'), /Page not found/);
    await page.close();
  });

  test('POST /api/v1/environments with a malformed CIDR gets a 422 naming the field', async () => {
    const response = await fetch(`${suite.portal.url}/api/v1/environments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'staging',
        node_subnets: ['192.168.101.0/24'],
        node_addresses: [],
        pod_cidrs: ['10.30.0.0/33'],
        service_cidr: '10.98.0.0/16',
        advertisement: { mode: 'arp', label: { key: 'gatehouse.io/advertise', value: 'staging' }, arp: { interfaces: [] } },
      }),
    });
    assert.equal(response.status, 422);
    const body = await response.json();
    assert.equal(body.error.field, 'pod_cidrs[0]');
    assert.equal(body.error.code, 'invalid_cidr');
  });

  test('the layout holds at 375 px and the overview is captured for the README', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 375, height: 812 } });
    await page.goto(suite.portal.url);
    await waitForHydration(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow}px)`);
    await page.close();

    const wide = await suite.browser.newPage({ viewport: { width: 1280, height: 800 } });
    await wide.goto(suite.portal.url);
    await waitForHydration(wide);
    await wide.screenshot({ path: join(import.meta.dirname, '..', 'artifacts', 'overview.png') });
    await wide.close();
  });
});
