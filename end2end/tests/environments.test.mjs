// A network admin plans an environment: the checklist runs in the browser as they type.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { portalForSuite, waitForHydration } from '../support/portal.mjs';

describe('the environment editor', () => {
  const suite = portalForSuite();

  test('field errors and checklist findings show as you type; a clean plan saves', async () => {
    const page = await suite.browser.newPage();
    await page.goto(`${suite.portal.url}/environments/new`);
    await waitForHydration(page);
    const save = page.locator('[data-testid=save-environment]');

    await page.fill('#env-name', 'staging');
    await page.fill('#env-node-subnets', '192.168.102.0/24');
    await page.fill('#env-pod-cidrs', '10.10.0.0/16');
    await page.fill('#env-service-cidr', '10.98.0.5/16');
    await page.getByText('did you mean 10.98.0.0/16?').waitFor();
    assert.equal(await page.getAttribute('#env-service-cidr', 'aria-invalid'), 'true');
    assert.ok(await save.isDisabled());

    // Fixed field; now the plan-wide rule fires: dev already has 10.10.0.0/16.
    await page.fill('#env-service-cidr', '10.98.0.0/16');
    const finding = page.locator('[data-testid=live-checklist] [data-rule=GH-POD-CIDR-DISTINCT]');
    await finding.waitFor();
    assert.match(await finding.textContent(), /dev/);
    assert.ok(await save.isDisabled(), 'Save stays disabled while an error-level rule fails');

    await page.fill('#env-pod-cidrs', '10.30.0.0/16');
    await finding.waitFor({ state: 'detached' });
    // Still on the default cluster with the plain template: it would put the demo's api where
    // prod does, and the fix named is this environment's.
    const clash = page.locator('[data-testid=live-checklist] [data-rule=GH-ENV-NAMESPACE]');
    await clash.waitFor();
    assert.match(await clash.textContent(), /Fix: give environment staging/);
    assert.ok(await save.isDisabled());

    // Where its applications go: a cluster by name and a namespace template, parsed as typed.
    await page.fill('#env-cluster', 'staging-east');
    await page.fill('#env-namespace-template', '{ns}-staging');
    await page.getByText('the placeholders are {namespace} and {environment}').waitFor();
    assert.equal(await page.getAttribute('#env-namespace-template', 'aria-invalid'), 'true');
    assert.ok(await save.isDisabled());
    await page.fill('#env-namespace-template', '{namespace}-staging');
    await page.locator('[data-testid=checklist-clear]').waitFor();
    assert.ok(await save.isEnabled());
    await save.click();
    await page.waitForURL(`${suite.portal.url}/environments/staging`);
    await page.getByRole('heading', { name: 'Environment staging' }).waitFor();

    const stored = await (await fetch(`${suite.portal.url}/api/v1/environments/staging`)).json();
    assert.deepEqual(stored.pod_cidrs, ['10.30.0.0/16']);
    assert.equal(stored.advertisement.label.value, 'staging', 'the label value defaults to the name');
    assert.equal(stored.cluster, 'staging-east');
    assert.equal(stored.namespace_template, '{namespace}-staging');
    await page.getByText('{namespace}-staging').waitFor();
    await page.close();
  });

  test('an environment can be edited and deleted from its page', async () => {
    const page = await suite.browser.newPage();
    await page.goto(`${suite.portal.url}/environments/staging/edit`);
    await waitForHydration(page);
    await page.check('#env-protected');
    await page.click('[data-testid=save-environment]');
    await page.waitForURL(`${suite.portal.url}/environments/staging`);
    await page.getByText("yes: submissions wait for a network admin's approval").waitFor();

    page.once('dialog', (dialog) => dialog.accept());
    await waitForHydration(page);
    await page.click('[data-testid=delete-environment]');
    await page.waitForURL(`${suite.portal.url}/environments`);
    const response = await fetch(`${suite.portal.url}/api/v1/environments/staging`);
    assert.equal(response.status, 404);
    await page.close();
  });
});
