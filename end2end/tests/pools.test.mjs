// A network admin creates an environment and a pool, sees the conflict when a second pool
// overlaps, allocates a VIP and sees it in the address map.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { portalForSuite, waitForHydration } from '../support/portal.mjs';

describe('IP pools', () => {
  const suite = portalForSuite();

  test('create an environment and a pool, see an overlap refused, allocate a VIP', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${suite.portal.url}/environments/new`);
    await waitForHydration(page);
    await page.fill('#env-name', 'lab');
    await page.fill('#env-node-subnets', '192.168.50.0/24');
    await page.fill('#env-node-addresses', '192.168.50.11\n192.168.50.12');
    await page.fill('#env-pod-cidrs', '10.50.0.0/16');
    await page.fill('#env-service-cidr', '10.150.0.0/16');
    // On the default cluster, the plain {namespace} template puts the demo's api where prod does:
    // the form says so before Save, with the fix for this environment, not prod's.
    const clash = page.locator('.finding[data-rule=GH-ENV-NAMESPACE]');
    await clash.waitFor();
    assert.match(await clash.textContent(), /environment lab's namespace template.*where environment prod puts it too.*Fix: give environment lab/s);
    assert.ok(await page.locator('[data-testid=save-environment]').isDisabled(), 'Save waits while the placement clashes');
    await page.fill('#env-namespace-template', '{namespace}-lab');
    await page.locator('[data-testid=checklist-clear]').waitFor();
    await page.click('[data-testid=save-environment]');
    await page.waitForURL(`${suite.portal.url}/environments/lab`);

    await page.goto(`${suite.portal.url}/pools`);
    await waitForHydration(page);
    const lab = page.locator('[data-testid=pools-lab]');
    await lab.locator('summary').click();
    await lab.locator('[data-testid=new-pool-name]').fill('lab-vips');
    await lab.locator('[data-testid=new-pool-blocks]').fill('192.168.50.200/29');
    await lab.getByRole('button', { name: 'Create pool' }).click();
    await page.waitForURL(/\/pools\/\d+$/);
    const poolUrl = page.url();
    await page.getByRole('heading', { name: 'Pool lab-vips (lab)' }).waitFor();
    assert.equal(await page.textContent('[data-testid=count-free]'), '8');

    // A second pool overlapping the first is refused with the rule and the other pool named.
    await page.goto(`${suite.portal.url}/pools`);
    await waitForHydration(page);
    await lab.locator('summary').click();
    await lab.locator('[data-testid=new-pool-name]').fill('lab-more');
    await lab.locator('[data-testid=new-pool-blocks]').fill('192.168.50.204-192.168.50.210');
    await lab.getByRole('button', { name: 'Create pool' }).click();
    const refusal = lab.locator('[data-testid=pool-rejected]');
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /GH-/);
    assert.match(await refusal.textContent(), /lab-vips/);

    // Allocate the next free VIP and find it in the map.
    await page.goto(poolUrl);
    await waitForHydration(page);
    await page.fill('#alloc-owner', 'team-a');
    await page.fill('#alloc-application', 'api');
    await page.click('[data-testid=allocate]');
    await page.locator('[data-testid=allocated]').waitFor();
    assert.match(await page.textContent('[data-testid=allocated]'), /192\.168\.50\.200/);
    const cell = page.locator('[data-testid=address-map] [data-address="192.168.50.200"]');
    await page.waitForFunction(
      () => document.querySelector('[data-address="192.168.50.200"]')?.classList.contains('address--allocated'),
    );
    await cell.focus();
    assert.match(await page.textContent('[data-testid=address-details]'), /team-a/);
    await page.screenshot({ path: new URL('../artifacts/pool.png', import.meta.url).pathname });

    // Growing the pool keeps the allocation and adds free addresses.
    await page.locator('.edit-pool summary').click();
    await page.fill('#edit-pool-blocks', '192.168.50.192/28');
    await page.getByRole('button', { name: 'Save pool' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid=count-free]')?.textContent === '15');
    assert.equal(await page.textContent('[data-testid=count-allocated]'), '1');
    await page.close();
  });
});
