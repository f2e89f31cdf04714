// An admin uploads a certificate for dev from files and sees its names and status; the same
// certificate and key for prod is refused by the rule that dev and prod never share them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { portalForSuite, waitForHydration } from '../support/portal.mjs';
import { makeCertificate } from '../support/certificates.mjs';

describe('Certificates', () => {
  const suite = portalForSuite();

  test('upload a certificate for dev, see its SANs and status; the same one for prod is refused', async () => {
    const { certificate_pem: certificate, private_key_pem: key } = makeCertificate('ledger-dev.mdhlabs.com', 'ledger.mdhlabs.com');
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${suite.portal.url}/certificates`);
    await waitForHydration(page);
    // The demo's certificates are listed with their status and the timeline.
    await page.locator('[data-testid="certificate-dev-api-tls"] .status--valid').waitFor();
    await page.locator('[data-testid=expiry-timeline]').waitFor();

    await page.selectOption('#upload-environment', 'dev');
    await page.fill('#upload-name', 'ledger-tls');
    await page.fill('#upload-owners', 'ledger-dev');
    await page.setInputFiles('#upload-certificate-file', { name: 'ledger.crt', mimeType: 'application/x-pem-file', buffer: Buffer.from(certificate) });
    await page.setInputFiles('#upload-key-file', { name: 'ledger.key', mimeType: 'application/x-pem-file', buffer: Buffer.from(key) });
    // The browser reads the files into the form.
    await page.waitForFunction(() => document.querySelector('#upload-key')?.value.includes('END PRIVATE KEY'));
    assert.equal(await page.inputValue('#upload-certificate'), certificate);
    await page.click('[data-testid=upload-certificate]');

    await page.waitForURL(/\/certificates\/\d+$/);
    const sans = page.locator('[data-testid=certificate-sans]');
    await sans.waitFor();
    assert.match(await sans.textContent(), /ledger-dev\.mdhlabs\.com/);
    assert.match(await sans.textContent(), /ledger\.mdhlabs\.com/);
    const status = page.locator('[data-testid=certificate-status]');
    assert.match(await status.textContent(), /^valid/);
    assert.match(await page.textContent('[data-testid=certificate-facts]'), /ECDSA P-256/);
    assert.doesNotMatch(await page.content(), /PRIVATE KEY/, 'the key is not on the page');
    assert.match(await page.textContent('[data-testid=certificate-owners]'), /ledger-dev/);
    // A network admin changes who may use it.
    await page.fill('#certificate-owners', 'ledger-dev, ledger-qa-*');
    await page.click('[data-testid=save-owners]');
    await page.locator('[data-testid=owners-saved]').waitFor();
    assert.equal(await page.inputValue('#certificate-owners'), 'ledger-dev, ledger-qa-*');
    await page.fill('#certificate-owners', 'Ledger_QA');
    await page.click('[data-testid=save-owners]');
    await page.locator('.field__error[data-field=owners]').waitFor();
    await page.reload();
    await waitForHydration(page);
    assert.match(await page.textContent('[data-testid=certificate-owners]'), /ledger-dev\s*ledger-qa-\*/);
    await page.screenshot({ path: new URL('../artifacts/certificate.png', import.meta.url).pathname, fullPage: true });

    // The very same certificate and key for prod: GH-TLS-DISTINCT refuses it, nothing stored.
    await page.goto(`${suite.portal.url}/certificates`);
    await waitForHydration(page);
    await page.selectOption('#upload-environment', 'prod');
    await page.fill('#upload-name', 'ledger-tls');
    await page.fill('#upload-certificate', certificate);
    await page.fill('#upload-key', key);
    await page.click('[data-testid=upload-certificate]');
    const refusal = page.locator('[data-testid=certificate-rejected]');
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /GH-TLS-DISTINCT/);
    assert.match(await refusal.textContent(), /ledger-tls in dev/);
    assert.equal(page.url(), `${suite.portal.url}/certificates`, 'still on the form');
    const prod = await (await fetch(`${suite.portal.url}/api/v1/environments/prod/certificates`)).json();
    assert.deepEqual(prod.map((c) => c.name), ['api-tls'], 'nothing stored for prod');

    // Bad input gets its message beside the field.
    await page.fill('#upload-key', key.replace(/-----END PRIVATE KEY-----\s*$/, ''));
    await page.click('[data-testid=upload-certificate]');
    const keyError = page.locator('.field__error[data-field=private_key_pem]');
    await keyError.waitFor();
    assert.match(await keyError.textContent(), /cut off/);
    await page.close();
  });

  test('a reference to a Secret in the cluster is stored as pending', async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${suite.portal.url}/certificates`);
    await waitForHydration(page);
    assert.equal(await page.isVisible('#secret-namespace'), false, 'the PEM fields show first');
    await page.check('#source-secret');
    assert.equal(await page.isVisible('#upload-certificate'), false);
    await page.selectOption('#upload-environment', 'prod');
    await page.fill('#upload-name', 'wildcard-tls');
    await page.fill('#secret-namespace', 'certificates');
    await page.fill('#secret-name', 'Wildcard TLS');
    await page.click('[data-testid=upload-certificate]');
    await page.locator('.field__error[data-field="secret_ref.name"]').waitFor();
    await page.fill('#secret-name', 'wildcard-tls');
    await page.click('[data-testid=upload-certificate]');
    await page.waitForURL(/\/certificates\/\d+$/);
    assert.match(await page.textContent('[data-testid=certificate-status]'), /pending: resolved once a cluster is connected/);
    await page.close();
  });

  test('the inventory filters and sorts from the query string, without JavaScript', async () => {
    const context = await suite.browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${suite.portal.url}/certificates`);
    await page.selectOption('#filter-environment', 'prod');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/environment=prod/);
    await page.locator('[data-testid="certificate-prod-api-tls"]').waitFor();
    const rows = await page.locator('[data-testid=certificates] tbody tr').allTextContents();
    assert.ok(rows.length >= 1 && rows.every((row) => row.startsWith('prod')), rows.join(' | '));
    await context.close();
  });
});
