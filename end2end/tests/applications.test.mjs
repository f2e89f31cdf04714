// An app team submits the demo application to the simulated cluster, watches every object
// turn ready, and tears it down after confirming; the Clusters page shows what the cluster
// offers and switches the Gateway label fix.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, portalForSuite, waitForHydration } from '../support/portal.mjs';

describe('Applications', () => {
  const suite = portalForSuite();

  test('submit api to dev, watch every object become ready, tear it down', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${suite.portal.url}/applications`);
    await waitForHydration(page);
    const dev = page.locator('[data-application=api] [data-environment=dev]');
    await dev.getByRole('button', { name: 'Submit to dev' }).click();
    await dev.locator('.progress[data-status=ready]').waitFor({ timeout: 30000 });
    const states = await dev.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.state));
    assert.ok(states.length >= 9, `every object is listed: ${states}`);
    assert.deepEqual([...new Set(states)], ['ready']);
    assert.match(await dev.textContent(), /Programmed at 192\.168\.101\.19/);
    await page.screenshot({ path: new URL('../artifacts/applications.png', import.meta.url).pathname, fullPage: true });

    await dev.getByRole('button', { name: 'Tear down' }).click();
    await dev.getByRole('button', { name: 'Yes, tear down' }).click();
    await dev.locator('.progress[data-status=torn_down]').waitFor({ timeout: 30000 });
    const after = await dev.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.state));
    assert.deepEqual([...new Set(after)], ['deleted']);
  });

  test('the list links to an application\'s page, which shows every environment and submits from it', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${suite.portal.url}/applications`);
    await waitForHydration(page);
    await page.locator('[data-application=api] h2').getByRole('link', { name: 'api', exact: true }).click();
    await page.waitForURL(`${suite.portal.url}/applications/api`);
    await page.getByRole('heading', { name: 'Application api' }).waitFor();
    await waitForHydration(page);
    for (const environment of ['dev', 'prod']) {
      const card = page.locator(`[data-glance=${environment}]`);
      assert.match(await card.textContent(), new RegExp(`Environment ${environment}.*Goes to.*cluster .* · namespace .*VIP`, 's'));
    }
    const dev = page.locator('[data-glance=dev] [data-environment=dev]');
    await dev.getByRole('button', { name: 'Submit to dev' }).click();
    await dev.locator('.progress[data-status=ready]').waitFor({ timeout: 30000 });
    const states = await dev.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.state));
    assert.deepEqual([...new Set(states)], ['ready']);
    await page.screenshot({ path: new URL('../artifacts/application.png', import.meta.url).pathname, fullPage: true });
    await page.close();

    // Opened directly on a phone: it hydrates with no console error and does not scroll sideways.
    const phone = await suite.browser.newPage({ viewport: { width: 375, height: 812 } });
    const problems = [];
    phone.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
    phone.on('pageerror', (error) => problems.push(String(error)));
    const response = await phone.goto(`${suite.portal.url}/applications/api`);
    assert.equal(response.status(), 200);
    await waitForHydration(phone);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow}px)`);
    assert.deepEqual(problems, []);
    await phone.close();
  });

  test('the Clusters page lists the capabilities and switches the label fix', async () => {
    const page = await suite.browser.newPage();
    await page.goto(`${suite.portal.url}/clusters`);
    await waitForHydration(page);
    assert.match(await page.textContent('main'), /reachable, Kubernetes v1\.32/);
    const cluster = page.locator('section[data-cluster=default]');
    assert.match(await cluster.textContent(), /Cluster default.*simulated.*Environments: dev, prod\./s);
    assert.equal(await page.locator('.capabilities li[data-present=false]').count(), 0);
    // Turning it off darkens every Gateway VIP: it asks first, and Cancel changes nothing.
    await page.getByRole('button', { name: 'Turn the fix off' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Turn the Gateway label fix off?' });
    assert.match(await confirm.textContent(), /every Gateway VIP stops being announced/);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('label-fix-banner').count(), 0);
    await page.getByRole('button', { name: 'Turn the fix off' }).click();
    await confirm.getByRole('button', { name: 'Yes, turn it off' }).click();
    await page.getByText('The fix is off').waitFor();
    // Every page says so while it is off.
    await page.getByTestId('label-fix-banner').waitFor();
    const elsewhere = await suite.browser.newPage();
    await elsewhere.goto(`${suite.portal.url}/pools`);
    assert.match(await elsewhere.getByTestId('label-fix-banner').textContent(), /Gateway label fix is off/);
    await elsewhere.close();
    await page.getByRole('button', { name: 'Turn the fix on' }).click();
    await page.getByText('The fix is on.').waitFor();
    await page.getByTestId('label-fix-banner').waitFor({ state: 'detached' });
    const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
    const minted = await fetch(`${suite.portal.url}/api/v1/tokens`, {
      method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'e2e' }),
    });
    const { token } = await minted.json();
    const audit = await fetch(`${suite.portal.url}/api/v1/audit?action=label_fix.switch`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(audit.status, 200, await audit.clone().text());
    assert.equal((await audit.json()).length, 2, 'both switches are audited');
  });
});
