// A submission that failed because its cluster could not be reached offers a Retry button;
// the retry runs the same job again (a second attempt, audited as submission.retry) and,
// while the cluster is still down, fails again for the same cure-able cause.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, portalForSuite, waitForHydration } from '../support/portal.mjs';

/// A loopback port nothing listens on: taken, then given back.
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/// A kubeconfig whose API server does not answer (a loopback port that refuses).
const kubeconfig = join(mkdtempSync(join(tmpdir(), 'gatehouse-retry-')), 'kubeconfig');
writeFileSync(
  kubeconfig,
  `apiVersion: v1
kind: Config
clusters:
- name: down
  cluster:
    server: https://127.0.0.1:${await closedPort()}
    insecure-skip-tls-verify: true
users:
- name: nobody
  user:
    token: not-a-real-token
contexts:
- name: down
  context: { cluster: down, user: nobody }
current-context: down
`,
);

async function adminToken(base) {
  const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
  const minted = await fetch(`${base}/api/v1/tokens`, {
    method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'e2e' }),
  });
  assert.equal(minted.status, 201, await minted.clone().text());
  return (await minted.json()).token;
}

describe('Retrying a submission', () => {
  const suite = portalForSuite({ args: ['--kubeconfig', kubeconfig, '--apply-timeout-secs', '5'] });

  test('a submission that could not reach its cluster is retried from its panel', async () => {
    const base = suite.portal.url;
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${base}/applications`);
    await waitForHydration(page);
    const dev = page.locator('[data-application=api] [data-environment=dev]');
    await dev.getByRole('button', { name: 'Submit to dev' }).click();
    await dev.locator('.progress[data-status=failed]').waitFor({ timeout: 30000 });
    const retry = dev.getByTestId('retry-submission');
    await retry.waitFor();
    const id = Number((await retry.textContent()).match(/Retry submission (\d+)/)[1]);

    const token = await adminToken(base);
    const get = async (path) => (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
    const first = await get(`/api/v1/submissions/${id}`);
    assert.equal(first.failure_code, 'cluster_unreachable', JSON.stringify(first));
    assert.equal(first.retryable, true);
    assert.equal(first.attempts, 1);

    await retry.click();
    // The job runs again: a second claim, and the same cure-able failure while the cluster is down.
    let again;
    for (let tries = 0; tries < 100; tries += 1) {
      again = await get(`/api/v1/submissions/${id}`);
      if (again.attempts === 2 && again.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(again.attempts, 2, JSON.stringify(again));
    assert.equal(again.status, 'failed');
    assert.equal(again.failure_code, 'cluster_unreachable');
    assert.equal(again.bundle, first.bundle, 'a retry applies the bundle that was requested');
    await dev.locator('.progress[data-status=failed]').waitFor({ timeout: 30000 });
    await retry.waitFor();
    const audit = await get(`/api/v1/audit?action=submission.retry&object=submission/${id}`);
    assert.equal(audit.filter((entry) => entry.object === `submission/${id}`).length, 1, `the retry is audited: ${JSON.stringify(audit)}`);
    await page.close();
  });
});
