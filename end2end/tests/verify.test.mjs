// Verification from an application's page: after a submission, Verify proves every hop
// (the VIP assigned and announced, TLS with the planned certificate, HTTP through the
// Gateway) on the simulated cluster's data path; with the Gateway label fix off the
// announcement fails with the caveat's rule, and on again everything passes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, portalForSuite, waitForHydration } from '../support/portal.mjs';

describe('Verification', () => {
  const suite = portalForSuite();

  async function adminToken() {
    const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
    const minted = await fetch(`${suite.portal.url}/api/v1/tokens`, {
      method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'verify-e2e' }),
    });
    assert.equal(minted.status, 201, await minted.clone().text());
    return (await minted.json()).token;
  }

  async function labelFix(token, enabled) {
    const answer = await fetch(`${suite.portal.url}/api/v1/label-fix`, {
      method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ enabled }),
    });
    assert.equal(answer.status, 200, await answer.clone().text());
  }

  // One click of Verify: waits for the new run (its id differs) and answers its outcome.
  async function verifyOnce(panel) {
    const outcome = panel.getByTestId('verification-outcome');
    const before = (await outcome.count()) ? await outcome.getAttribute('data-run') : null;
    await panel.getByTestId('verify-button').click();
    const fresh = before ? `[data-testid=verification-outcome]:not([data-run="${before}"])` : '[data-testid=verification-outcome]';
    await panel.locator(fresh).waitFor({ timeout: 20_000 });
    return outcome.getAttribute('data-outcome');
  }

  // Verifies until the run's outcome is `wanted` (the cluster takes a moment to follow the
  // label fix), and answers the rows' checks, outcomes and text.
  async function verifyUntil(panel, wanted) {
    const deadline = Date.now() + 30_000;
    for (let found = await verifyOnce(panel); found !== wanted; found = await verifyOnce(panel)) {
      assert.ok(Date.now() < deadline, `the verification did not become ${wanted} (last: ${found})`);
    }
    return panel.locator('tbody tr').evaluateAll((rows) => rows.map((row) => [row.dataset.check, row.dataset.outcome, row.textContent]));
  }

  test('submit, verify every hop; the label fix off fails the announcement with its caveat, on again passes', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${suite.portal.url}/applications/api`);
    await waitForHydration(page);
    const dev = page.locator('[data-glance=dev]');
    await dev.getByRole('button', { name: 'Submit to dev' }).click();
    await dev.locator('.progress[data-status=ready]').waitFor({ timeout: 30_000 });
    const panel = dev.getByTestId('verification');

    const passed = await verifyUntil(panel, 'pass');
    assert.deepEqual([...new Set(passed.map(([check]) => check))], ['assigned', 'announced', 'tls', 'http']);
    assert.deepEqual([...new Set(passed.map(([, outcome]) => outcome))], ['pass']);
    await panel.scrollIntoViewIfNeeded();
    await page.screenshot({ path: new URL('../artifacts/verification.png', import.meta.url).pathname, fullPage: true });

    const token = await adminToken();
    await labelFix(token, false);
    const failed = await verifyUntil(panel, 'fail');
    const announced = failed.find(([check]) => check === 'announced');
    assert.equal(announced[1], 'fail', `${failed}`);
    assert.match(announced[2], /GH-GATEWAY-LABEL/);
    assert.match(announced[2], /label/i);

    await labelFix(token, true);
    const again = await verifyUntil(panel, 'pass');
    assert.deepEqual([...new Set(again.map(([, outcome]) => outcome))], ['pass']);
    await page.close();
  });
});
