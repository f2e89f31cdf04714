// Every page of the portal, on a phone (375×812) and a laptop (1280×800), in the light and the
// dark theme: the page never scrolls sideways, nothing is logged as an error, and axe-core finds
// no serious or critical accessibility violation (colour contrast included). A full-page
// screenshot of each is left in end2end/artifacts/layout/.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { portalForSuite, ADMIN_PASSWORD, waitForHydration } from '../support/portal.mjs';

const artifacts = resolve(import.meta.dirname, '..', 'artifacts', 'layout');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const viewports = [
  { name: 'phone', width: 375, height: 812 },
  { name: 'laptop', width: 1280, height: 800 },
];
const themes = ['light', 'dark'];

// The pages, by path. `{certificate}`, `{pool}` and `{approval}` are filled in from the demo
// data once the portal runs. `as: 'admin'` pages are visited after signing in as the first
// admin (the demo's visitor is a network admin).
const pages = [
  ['overview', '/'],
  ['checklist', '/checklist'],
  ['applications', '/applications'],
  ['application', '/applications/api'],
  ['application-new', '/applications/new'],
  ['application-edit', '/applications/api/edit'],
  ['application-preview', '/applications/api/preview?environment=dev'],
  ['environments', '/environments'],
  ['environment', '/environments/dev'],
  ['environment-new', '/environments/new'],
  ['environment-edit', '/environments/dev/edit'],
  ['pools', '/pools'],
  ['pool', '/pools/{pool}'],
  ['pools-conflicts', '/pools/conflicts'],
  ['pools-outputs', '/pools/outputs'],
  ['vips', '/vips'],
  ['clusters', '/clusters'],
  ['certificates', '/certificates'],
  ['certificate', '/certificates/{certificate}'],
  ['topology', '/topology'],
  ['topology-hardware', '/topology/hardware'],
  ['topology-cilium', '/topology/cilium'],
  ['topology-compare', '/topology/compare'],
  ['topology-application', '/topology/applications/api'],
  ['topology-walk-arp', '/topology/walk/arp?step=4'],
  ['topology-walk-bgp', '/topology/walk/bgp?step=4&caveat=frr-vm'],
  ['topology-live', '/topology/live/api?environment=dev'],
  ['approvals', '/approvals'],
  ['approval', '/approvals/{approval}'],
  ['account', '/account'],
  ['audit', '/audit'],
  // Chromium logs the document's own 404 as a console error: that line only is expected.
  ['not-found', '/no/such/page', { status: 404, console: /^Failed to load resource: the server responded with a status of 404 \(Not Found\)$/ }],
  ['sign-in', '/sign-in'],
  ['users', '/users', { as: 'admin' }],
];

// The elements sticking out past the right edge of the viewport, for the failure message.
function overflowing() {
  const width = window.innerWidth;
  const out = [];
  for (const element of document.body.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    if (box.right <= width + 0.5 || box.width === 0) continue;
    // Only the outermost: skip those whose parent already sticks out, and those inside a
    // container that clips or scrolls them.
    const parent = element.parentElement?.getBoundingClientRect();
    if (parent && parent.right > width + 0.5) continue;
    let clipped = false;
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') clipped = true;
    }
    if (clipped) continue;
    const id = element.id ? `#${element.id}` : '';
    const classes = typeof element.className === 'string' && element.className ? `.${element.className.trim().split(/\s+/).join('.')}` : '';
    out.push(`${element.tagName.toLowerCase()}${id}${classes} (right ${Math.round(box.right)})`);
    if (out.length >= 5) break;
  }
  if (out.length) return out;
  // Text running out of its box has no box of its own: find the element whose hiding ends
  // the overflow, descending from <body>.
  const path = [];
  let scope = document.body;
  descend: while (scope) {
    for (const child of scope.children) {
      const before = child.style.display;
      child.style.display = 'none';
      const fits = document.documentElement.scrollWidth <= width;
      child.style.display = before;
      if (fits) {
        path.push(child.tagName.toLowerCase() + (typeof child.className === 'string' && child.className ? `.${child.className.trim().split(/\s+/).join('.')}` : ''));
        scope = child;
        continue descend;
      }
    }
    break;
  }
  return [path.join(' > ') || 'no single element'];
}

describe('layout and accessibility of every page', () => {
  const suite = portalForSuite();
  const found = {};

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    // A submission to dev (for the live view) and one to prod, which waits for approval.
    await page.goto(`${suite.portal.url}/applications`);
    await waitForHydration(page);
    const dev = page.locator('[data-application=api] [data-environment=dev]');
    await dev.getByRole('button', { name: 'Submit to dev' }).click();
    await dev.locator('.progress[data-status=ready]').waitFor({ timeout: 30_000 });
    const prod = page.locator('[data-application=api] [data-environment=prod]');
    await prod.getByRole('button', { name: 'Submit to prod' }).click();
    await prod.locator('.progress[data-status=awaiting_approval]').waitFor({ timeout: 30_000 });

    await page.goto(`${suite.portal.url}/approvals`);
    found.approval = await page.locator('[data-testid=approvals] tbody tr').first().getAttribute('data-submission');
    await page.goto(`${suite.portal.url}/pools`);
    found.pool = (await page.locator('main a[href^="/pools/"]').evaluateAll((links) =>
      links.map((a) => a.getAttribute('href')).find((href) => /^\/pools\/\d+$/.test(href))))?.split('/')[2];
    await page.goto(`${suite.portal.url}/certificates`);
    found.certificate = (await page.locator('main a[href^="/certificates/"]').first().getAttribute('href'))?.split('/')[2];
    for (const key of ['approval', 'pool', 'certificate']) assert.ok(found[key], `the demo has a ${key} to show`);
    await page.close();
  });

  for (const viewport of viewports) {
    for (const theme of themes) {
      test(`${viewport.width}×${viewport.height}, ${theme} theme`, async (t) => {
        // The theme as the toggle chooses it: the cookie, read by the server, which renders
        // <html data-theme>. The OS preference is set to the same, so nothing disagrees.
        const context = await suite.browser.newContext({ viewport, colorScheme: theme });
        await context.addCookies([{ name: 'gatehouse-theme', value: theme, url: suite.portal.url }]);
        const page = await context.newPage();
        const problems = [];
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(message.text());
        });
        page.on('pageerror', (error) => problems.push(String(error)));

        for (const [name, template, options = {}] of pages) {
          await t.test(name, async () => {
            if (options.as === 'admin') {
              await page.goto(`${suite.portal.url}/sign-in`);
              await page.fill('#name', 'admin');
              await page.fill('#password', ADMIN_PASSWORD);
              await page.click('button[type=submit]:has-text("Sign in")');
              await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'));
            }
            const path = template.replace(/\{(\w+)\}/g, (_, key) => found[key]);
            problems.length = 0;
            const expected = (problem) => options.console?.test(problem);
            const response = await page.goto(`${suite.portal.url}${path}`);
            assert.equal(response.status(), options.status ?? 200, path);
            assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme, 'the theme cookie is honoured');
            assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).colorScheme), theme);
            // Leptos pages hydrate (their WASM may log errors then); the server's own pages
            // have no script.
            if (await page.locator('script[type=module], link[rel=modulepreload]').count()) await waitForHydration(page);

            const shot = `${name}-${viewport.name}-${theme}.png`;
            await page.screenshot({ path: join(artifacts, shot), fullPage: true });

            const failures = [];
            const { scrollWidth, innerWidth } = await page.evaluate(() => ({
              scrollWidth: document.documentElement.scrollWidth,
              innerWidth: window.innerWidth,
            }));
            if (scrollWidth > innerWidth) {
              failures.push(`the page is ${scrollWidth}px wide in a ${innerWidth}px window: ${(await page.evaluate(overflowing)).join(', ')}`);
            }

            // Evaluated through the DevTools protocol: the page's Content Security Policy,
            // which refuses inline scripts (page.addScriptTag), stays in force for the page.
            await page.evaluate(axeSource);
            const violations = await page.evaluate(async () => {
              const results = await window.axe.run(document, { resultTypes: ['violations'] });
              return results.violations
                .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => ({
                  rule: v.id,
                  impact: v.impact,
                  help: v.help,
                  nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary?.split('\n').slice(1).join(' ').trim() })),
                }));
            });
            for (const violation of violations) {
              for (const node of violation.nodes) {
                failures.push(`axe ${violation.rule} (${violation.impact}, ${violation.help}): ${node.target} — ${node.summary}`);
              }
            }
            failures.push(...problems.filter((problem) => !expected(problem)).map((problem) => `console: ${problem}`));
            assert.deepEqual(failures, [], `${path} at ${viewport.width}px, ${theme} (screenshot ${shot})`);
          });
        }
        await context.close();
      });
    }
  }

  // The confirmations open on a click, so the page loop above never sees them.
  for (const theme of themes) {
    test(`the confirmations' buttons stand apart and pass axe at 375 px, ${theme} theme`, async () => {
      const context = await suite.browser.newContext({ viewport: viewports[0], colorScheme: theme });
      await context.addCookies([{ name: 'gatehouse-theme', value: theme, url: suite.portal.url }]);
      const page = await context.newPage();
      for (const [name, path, scope, open, yes] of [
        ['confirm-teardown', '/applications/api', '[data-application=api] [data-environment=dev]', 'Tear down', 'Yes, tear down'],
        ['confirm-label-fix', '/clusters', 'main', 'Turn the fix off', 'Yes, turn it off'],
      ]) {
        await page.goto(`${suite.portal.url}${path}`);
        await waitForHydration(page);
        const within = page.locator(scope);
        await within.getByRole('button', { name: open, exact: true }).click();
        const dialog = within.getByRole('alertdialog');
        await dialog.waitFor();
        const a = await dialog.getByRole('button', { name: yes }).boundingBox();
        const b = await dialog.getByRole('button', { name: 'Cancel' }).boundingBox();
        // Side by side or one above the other: at least 8 px of space between them.
        const apart = Math.max(b.x - (a.x + a.width), a.x - (b.x + b.width), b.y - (a.y + a.height), a.y - (b.y + b.height));
        assert.ok(apart >= 8, `${name}: the buttons are ${apart}px apart`);
        await dialog.screenshot({ path: join(artifacts, `${name}-phone-${theme}.png`) });
        await page.evaluate(axeSource);
        const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`)));
        assert.deepEqual(violations, [], name);
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, `${name}: no sideways scroll`);
        await within.getByRole('button', { name: 'Cancel' }).click();
      }
      await context.close();
    });
  }
});
