// OpenID Connect sign-in against a real provider (the `oidc-provider` package) started by the
// test: the authorization code flow with PKCE, the provider's groups mapped to roles.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { launchChromium, startPortal, waitForHydration } from '../support/portal.mjs';

const CLIENT_SECRET = 'the client secret the provider and the portal share';
// The provider's accounts: any password signs in (its development login page).
const GROUPS = { nora: ['netops', 'staff'], vic: ['staff'], eve: ['contractors'] };

describe('OpenID Connect sign-in', () => {
  let idp;
  let portal;
  let browser;

  before(async () => {
    // The provider's address must be known before the portal starts, and the portal's before
    // the provider knows its client: listen first, configure the provider after.
    idp = createServer();
    await new Promise((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${idp.address().port}`;
    portal = await startPortal({
      demoSignIn: false,
      args: ['--oidc-issuer', issuer, '--oidc-client-id', 'gatehouse', '--oidc-roles', 'netops=network_admin,staff=viewer'],
      env: { GATEHOUSE_OIDC_CLIENT_SECRET: CLIENT_SECRET },
    });
    const provider = new Provider(issuer, {
      clients: [{
        client_id: 'gatehouse',
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${portal.url}/sign-in/oidc/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      }],
      claims: { openid: ['sub'], profile: ['preferred_username'], groups: ['groups'] },
      features: { devInteractions: { enabled: true } },
      async findAccount(_ctx, id) {
        return { accountId: id, async claims() { return { sub: id, preferred_username: id, groups: GROUPS[id] ?? [] }; } };
      },
    });
    idp.on('request', provider.callback());
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
    idp?.close();
  });

  async function signInAtProvider(page, login) {
    await page.click('a:has-text("Sign in with OpenID Connect")');
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'whatever the provider asks');
    await page.click('button[type=submit]');
    await page.click('button:has-text("Continue")');
  }

  test('a network admin signs in at the provider and comes back with the role of their group', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${portal.url}/environments`);
    assert.match(page.url(), /\/sign-in\?return=\/environments$/);
    await signInAtProvider(page, 'nora');
    await page.waitForURL(`${portal.url}/environments`);
    await waitForHydration(page);
    assert.equal(await page.textContent('.site-header [data-testid=signed-in-as]'), 'nora (network admin)');
    const editor = await page.goto(`${portal.url}/environments/new`);
    assert.equal(editor.status(), 200, 'network admins edit environments');
    await context.close();
  });

  test('a viewer gets the viewer role; groups that map to no role are refused, saying why', async () => {
    const viewer = await browser.newContext();
    const page = await viewer.newPage();
    await page.goto(`${portal.url}/sign-in`);
    await signInAtProvider(page, 'vic');
    await page.waitForURL(`${portal.url}/`);
    await waitForHydration(page);
    assert.equal(await page.textContent('.site-header [data-testid=signed-in-as]'), 'vic (viewer)');
    const editor = await page.goto(`${portal.url}/environments/new`);
    assert.equal(editor.status(), 403);
    await viewer.close();

    const outsider = await browser.newContext();
    const refused = await outsider.newPage();
    await refused.goto(`${portal.url}/sign-in`);
    await signInAtProvider(refused, 'eve');
    await refused.waitForURL(/\/sign-in\/oidc\/callback/);
    assert.match(await refused.textContent('main'), /your groups \(contractors\) give no Gatehouse role/);
    await outsider.close();
  });
});
