// A submission to the protected prod environment waits for approval: its requester sees it but
// cannot approve it; another network admin reads the bundle's diff against the cluster and
// approves it, and it is applied. A rejection needs a reason.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, portalForSuite, waitForHydration } from '../support/portal.mjs';

describe('Approvals', () => {
  const suite = portalForSuite();

  test('the requester cannot approve; another network admin reviews the diff and approves', async () => {
    // The demo signs this visitor in as `demo`, a network admin.
    const requester = await suite.browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await requester.goto(`${suite.portal.url}/applications`);
    await waitForHydration(requester);
    const prod = requester.locator('[data-application=api] [data-environment=prod]');
    await prod.getByRole('button', { name: 'Submit to prod' }).click();
    await prod.locator('.progress[data-status=awaiting_approval]').waitFor({ timeout: 30000 });

    await requester.goto(`${suite.portal.url}/approvals`);
    await waitForHydration(requester);
    const row = requester.locator('[data-testid=approvals] tbody tr').first();
    assert.match(await row.textContent(), /Apply api in prod/);
    const id = await row.getAttribute('data-submission');
    await row.getByRole('link', { name: 'View (your own)' }).click();
    await requester.getByText('You requested this submission').waitFor();
    await waitForHydration(requester);
    assert.equal(await requester.getByTestId('approve').isDisabled(), true, 'no approving one’s own');

    // Someone else: the first admin signs in in a browser of their own.
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 1400 } });
    const approver = await context.newPage();
    await approver.goto(`${suite.portal.url}/sign-in?return=/approvals/${id}`);
    await approver.fill('#name', 'admin');
    await approver.fill('#password', ADMIN_PASSWORD);
    await approver.click('button[type=submit]:has-text("Sign in")');
    await approver.waitForURL(`**/approvals/${id}`);
    await waitForHydration(approver);
    assert.equal(await approver.getByText('You requested this submission').count(), 0);
    // Nothing of api is in the cluster yet: every object is new.
    const deployment = approver.locator('.preview-object[data-kind=Deployment]');
    assert.match(await deployment.textContent(), /new: not in the cluster yet/);
    assert.match(await deployment.textContent(), /\.spec\.replicas/);
    assert.ok(await approver.locator('.preview-object').count() >= 8, 'every object of the bundle');
    await approver.screenshot({ path: new URL('../artifacts/approval.png', import.meta.url).pathname, fullPage: true });

    // A rejection needs a reason; then approve.
    await approver.getByTestId('reject').click();
    await approver.getByText('say why the submission is rejected').waitFor();
    assert.equal(await approver.getByTestId('approval-status').textContent(), 'awaiting approval');
    assert.equal(await approver.getByTestId('approval-status').getAttribute('data-status'), 'awaiting_approval');
    await approver.getByTestId('approve').click();
    await approver.getByTestId('decision').waitFor();
    assert.match(await approver.getByTestId('decision').textContent(), /approved/);

    await approver.goto(`${suite.portal.url}/applications`);
    await waitForHydration(approver);
    const applied = approver.locator('[data-application=api] [data-environment=prod]');
    await applied.locator('.progress[data-status=ready]').waitFor({ timeout: 30000 });
    assert.match(await applied.textContent(), /approved by admin/);
    await context.close();
  });
});
