// An app team fills the self-service form, sees the checklist's errors beside the fields they
// concern with Save disabled, fixes them, previews the objects against the simulated cluster,
// submits, and watches every object turn ready. The VIP page then shows the new Gateway VIP.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, portalForSuite, waitForHydration } from '../support/portal.mjs';
import { makeCertificate } from '../support/certificates.mjs';

const TEAM = { name: 'shop-team', password: 'the shop team sells things' };

/// As the admin, through the API: a token, the team's account and the team's certificate.
async function prepare(base) {
  const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
  const minted = await fetch(`${base}/api/v1/tokens`, {
    method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'e2e' }),
  });
  assert.equal(minted.status, 201, await minted.clone().text());
  const { token } = await minted.json();
  const post = async (path, body) => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.equal(response.status, 201, `${path}: ${await response.text()}`);
  };
  await post('/api/v1/users', { ...TEAM, role: 'app_team', scopes: 'namespace:shop, namespace:shop-*' });
  // dev puts an application of namespace shop in shop-dev: the team's certificate is for it.
  const shop = makeCertificate('shop-dev.mdhlabs.com');
  await post('/api/v1/environments/dev/certificates', { name: 'shop-tls', ...shop, owners: ['shop-*'] });
  // Another team's certificate in the same environment.
  const ledger = makeCertificate('ledger-dev.mdhlabs.com');
  await post('/api/v1/environments/dev/certificates', { name: 'ledger-tls', ...ledger, owners: ['ledger-dev'] });
}

async function signIn(page, base, path) {
  await page.goto(`${base}/sign-in?return=${path}`);
  await page.fill('#name', TEAM.name);
  await page.fill('#password', TEAM.password);
  await page.click('button[type=submit]:has-text("Sign in")');
  await page.waitForURL(new RegExp(`${path}$`));
  await waitForHydration(page);
}

/// The values the certificate choice of an environment offers, "— none —" left out.
async function certificateChoices(page, environment) {
  return page.locator(`#app-${environment}-certificate option`).evaluateAll((options) => options.map((o) => o.value).filter((v) => v));
}

describe('The application form', () => {
  const suite = portalForSuite({ demoSignIn: false });

  test('an app team fills the form, fixes the checklist errors, previews, submits and sees every object ready', async () => {
    const base = suite.portal.url;
    await prepare(base);
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1600 } });
    await signIn(page, base, '/applications/new');

    await page.fill('#app-name', 'shop');
    await page.fill('#app-namespace', 'shop');
    await page.fill('#app-image', 'registry.example/shop:2.0.1');
    await page.fill('#app-replicas', '2');
    await page.fill('#app-port', '8080');
    await page.fill('#app-readiness', '/ready');
    await page.fill('#app-liveness', '/live');
    await page.uncheck('#app-prod-deployed');
    // prod's hostname, and an address outside dev's pool (192.168.101.192/28).
    await page.fill('#app-dev-hostnames', 'api.mdhlabs.com');
    await page.fill('#app-dev-config', 'MODE=dev');
    await page.selectOption('#app-dev-certificate', 'shop-tls');
    await page.selectOption('#app-dev-vip', 'address');
    await page.fill('#app-dev-vip-address', '192.168.101.100');

    const dev = page.locator('fieldset[data-environment=dev]');
    const save = page.locator('[data-testid=save-application]');
    assert.equal(await dev.getByTestId('placement').textContent(), 'Goes to cluster default, namespace shop-dev.');
    await dev.locator('.field__finding[data-rule=GH-HOSTNAME-DISTINCT]').waitFor();
    await dev.locator('.field__finding[data-rule=GH-VIP-OUTSIDE-POOL]').waitFor();
    assert.match(await dev.locator('.field__finding[data-rule=GH-HOSTNAME-DISTINCT]').textContent(), /api\.mdhlabs\.com is routed in dev, prod.*Fix: give each environment its own hostname/);
    assert.ok(await save.isDisabled(), 'Save waits while an error-level rule fails');
    await page.screenshot({ path: new URL('../artifacts/application-form.png', import.meta.url).pathname, fullPage: true });

    await page.fill('#app-dev-hostnames', 'shop-dev.mdhlabs.com');
    await page.selectOption('#app-dev-vip', 'auto');
    await dev.locator('.field__finding--error').waitFor({ state: 'detached' });
    await page.waitForFunction(() => !document.querySelector('[data-testid=save-application]').disabled);
    assert.equal(await page.inputValue('#app-name'), 'shop', 'nothing typed is lost');
    assert.equal(await page.inputValue('#app-dev-config'), 'MODE=dev');
    await save.click();

    await page.waitForURL(/\/applications\/shop\/preview\?environment=dev$/);
    const deployment = page.locator('.preview-object[data-kind=Deployment]');
    await deployment.waitFor();
    assert.match(await deployment.textContent(), /Deployment shop-dev\/shop.*new: not in the cluster yet/s);
    assert.ok(await deployment.locator('tr[data-change=added]').count() > 5);
    assert.equal(await page.locator('.preview-object[data-kind=Secret] pre').textContent().then((yaml) => yaml.includes('PRIVATE KEY')), false);

    const panel = page.locator('[data-application=shop] [data-environment=dev]');
    await panel.getByRole('button', { name: 'Submit to dev' }).click();
    await panel.locator('.progress[data-status=ready]').waitFor({ timeout: 30000 });
    const states = await panel.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.state));
    assert.ok(states.length >= 9, `every object is listed: ${states}`);
    assert.deepEqual([...new Set(states)], ['ready']);
    await page.screenshot({ path: new URL('../artifacts/application-preview.png', import.meta.url).pathname, fullPage: true });

    // The team sees its own applications only: the demo's api lives in another team's namespace.
    await page.goto(`${base}/applications`);
    await page.locator('[data-application=shop]').first().waitFor();
    assert.equal(await page.locator('[data-application=api]').count(), 0, "another team's application is not listed");

    await page.goto(`${base}/vips`);
    const vip = page.locator('tr[data-service="shop-dev/cilium-gateway-shop-dev"]');
    await vip.waitFor();
    assert.equal(await vip.getAttribute('data-announced'), 'true');
    assert.match(await vip.textContent(), /192\.168\.101\.19\d.*gatehouse\.io\/advertise=dev.*assigned.*L2 policy/s);
    await page.close();
  });

  test('an app team is offered only the certificates its namespace may use, environment by environment', async () => {
    const base = suite.portal.url;
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1600 } });
    await signIn(page, base, '/applications/new');
    await page.fill('#app-name', 'basket');
    await page.fill('#app-namespace', 'shop');
    const dev = page.locator('fieldset[data-environment=dev]');
    assert.equal(await dev.getByTestId('placement').textContent(), 'Goes to cluster default, namespace shop-dev.');
    // dev holds api-tls (cd-service-dev's), shop-tls (shop-*) and ledger-tls (ledger-dev's).
    assert.deepEqual(await certificateChoices(page, 'dev'), ['shop-tls']);
    // prod holds only the demo's api-tls, which belongs to cd-service.
    assert.deepEqual(await certificateChoices(page, 'prod'), []);

    // The choice follows the namespace the environment would put the application in.
    await page.fill('#app-namespace', 'ledger');
    await page.waitForFunction(() => [...document.querySelectorAll('#app-dev-certificate option')].some((o) => o.value === 'ledger-tls'));
    assert.deepEqual(await certificateChoices(page, 'dev'), ['ledger-tls']);
    await page.fill('#app-namespace', 'cd-service');
    await page.waitForFunction(() => [...document.querySelectorAll('#app-dev-certificate option')].some((o) => o.value === 'api-tls'));
    assert.deepEqual(await certificateChoices(page, 'dev'), ['api-tls']);
    assert.deepEqual(await certificateChoices(page, 'prod'), ['api-tls']);

    // A chosen certificate the namespace may not use stays visible, marked, with the refusal
    // beside it, and Save waits.
    await page.fill('#app-namespace', 'shop');
    await page.waitForFunction(() => [...document.querySelectorAll('#app-dev-certificate option')].some((o) => o.value === 'shop-tls'));
    await page.fill('#app-image', 'registry.example/basket:1.0.0');
    await page.uncheck('#app-prod-deployed');
    await page.fill('#app-dev-hostnames', 'basket-dev.mdhlabs.com');
    await page.selectOption('#app-dev-certificate', 'shop-tls');
    await page.fill('#app-namespace', 'billing');
    const refusal = dev.locator('.field__error', { hasText: 'shop-tls' });
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /certificate shop-tls in dev belongs to namespaces shop-\*.*namespace billing-dev/);
    assert.ok(await page.locator('[data-testid=save-application]').isDisabled(), 'Save waits');
    assert.match(await page.locator('#app-dev-certificate option:checked').textContent(), /shop-tls — not for namespace billing-dev \(owners: shop-\*\)/);
    await page.screenshot({ path: new URL('../artifacts/application-form-certificates.png', import.meta.url).pathname, fullPage: true });
    await page.close();
  });
});
