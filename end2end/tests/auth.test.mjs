// Sign in as real users with different roles (the demo sign-in switched off), see only what
// each role allows, sign out; and the demo's banner when the demo signs visitors in.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, portalForSuite, waitForHydration } from '../support/portal.mjs';

async function signIn(page, name, password) {
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click('button[type=submit]:has-text("Sign in")');
}

describe('Sign-in and roles', () => {
  const suite = portalForSuite({ demoSignIn: false });

  test('an admin signs in, lands where they were going, creates a viewer and signs out', async () => {
    const page = await suite.browser.newPage();
    await page.goto(`${suite.portal.url}/pools`);
    assert.match(page.url(), /\/sign-in\?return=\/pools$/, 'anonymous visitors are sent to sign in');

    await signIn(page, 'admin', 'not the password');
    assert.match(await page.textContent('[data-testid=sign-in-error]'), /user name or password is wrong/);
    assert.equal(await page.inputValue('#name'), 'admin', 'the name stays filled in');

    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForURL(/\/pools$/);
    await waitForHydration(page);
    const who = page.locator('.site-header [data-testid=signed-in-as]');
    assert.equal(await who.textContent(), 'admin (admin)');
    assert.equal(await page.locator('.site-header a[href="/users"]').count(), 1, 'admins see Users');
    assert.equal(await page.locator('[data-testid=demo-banner]').count(), 0, 'no demo banner for real users');

    await page.click('.site-header a[href="/users"]');
    await page.waitForURL(/\/users$/);
    await page.fill('#new-name', 'vera');
    await page.fill('#new-password', 'vera reads the topology');
    await page.selectOption('#new-role', 'viewer');
    await page.click('button:has-text("Create user")');
    await page.locator('[data-user=vera]').waitFor();

    await page.click('button:has-text("Sign out")');
    await page.waitForURL(/\/sign-in$/);
    await page.goto(`${suite.portal.url}/users`);
    assert.match(page.url(), /\/sign-in\?return=\/users$/, 'signed out: asked to sign in again');
    await page.close();
  });

  test('a viewer sees the topology and the checklist, but not the editors, users or key material', async () => {
    const page = await suite.browser.newPage();
    await page.goto(`${suite.portal.url}/sign-in?return=/topology/hardware`);
    await signIn(page, 'vera', 'vera reads the topology');
    await page.waitForURL(/\/topology\/hardware$/);
    await waitForHydration(page);
    assert.equal(await page.locator('.site-header [data-testid=signed-in-as]').textContent(), 'vera (viewer)');
    assert.equal(await page.locator('.site-header a[href="/users"]').count(), 0);
    assert.equal(await page.locator('.site-header a[href="/audit"]').count(), 0);

    const checklist = await page.goto(`${suite.portal.url}/checklist`);
    assert.equal(checklist.status(), 200);

    for (const path of ['/environments/new', '/users', '/audit', '/environments/dev/edit']) {
      const response = await page.goto(`${suite.portal.url}${path}`);
      assert.equal(response.status(), 403, path);
      assert.match(await page.textContent('main'), /your role \(viewer\) does not allow this/, path);
    }
    const bundle = await page.goto(`${suite.portal.url}/api/v1/applications/api/bundle.yaml?environment=dev`);
    assert.equal(bundle.status(), 403, 'no TLS Secrets for viewers');

    await page.goto(`${suite.portal.url}/account`);
    await page.fill('#token-name', 'laptop');
    await page.click('button:has-text("Create token")');
    const token = await page.textContent('[data-testid=new-token]');
    assert.match(token, /^ghp_/);
    await page.click('button:has-text("Sign out everywhere")');
    await page.waitForURL(/\/sign-in\?ended=1$/);
    await page.close();
  });
});

describe('Demo sign-in', () => {
  const suite = portalForSuite();

  test('every page says the visitor is signed in as the demo user', async () => {
    const page = await suite.browser.newPage();
    for (const path of ['/', '/pools', '/topology/cilium']) {
      await page.goto(`${suite.portal.url}${path}`);
      await waitForHydration(page);
      assert.match(await page.textContent('[data-testid=demo-banner]'), /signed in as demo \(network admin\)/, path);
    }
    await page.goto(`${suite.portal.url}/account`);
    assert.match(await page.textContent('[data-testid=demo-banner]'), /signed in as demo/);
    await page.close();
  });
});
