// Starts the real `gatehouse` binary on 127.0.0.1 port 0 with a fresh SQLite database and
// Debian's Chromium through playwright-core.
import { spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const repo = resolve(import.meta.dirname, '..', '..');

export const ADMIN_PASSWORD = 'the admin of the end-to-end portal';

// `demoSignIn: false` keeps the demo data but asks everyone to sign in (the first admin's
// password is `adminPassword`).
export async function startPortal({ demo = true, demoSignIn = true, adminPassword = ADMIN_PASSWORD, args: extraArgs = [], env: extraEnv = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const bin = process.env.GATEHOUSE_BIN ?? join(repo, 'target', 'debug', 'gatehouse');
  const args = ['--listen', '127.0.0.1:0'];
  if (demo) args.push('--demo');
  if (!demoSignIn) args.push('--demo-sign-in', 'false');
  args.push(...extraArgs);
  const child = spawn(bin, args, {
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${join(dir, 'gatehouse.db')}`,
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? join(repo, 'target', 'site'),
      GATEHOUSE_LOG_FORMAT: 'json',
      GATEHOUSE_ADMIN_PASSWORD: adminPassword,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('gatehouse did not report its address within 30 s')), 30_000);
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line);
          if (entry.url) {
            clearTimeout(timer);
            resolvePromise(entry.url);
          }
        } catch {
          // not a log line of ours
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`gatehouse exited early with ${code}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/// Resolves once the WASM bundle has hydrated the page (the app marks <body>).
export async function waitForHydration(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
}

// Inside a describe(): one portal and one Chromium for the suite's tests, stopped after them.
export function portalForSuite(options = {}) {
  const suite = { portal: undefined, browser: undefined };
  before(async () => {
    suite.portal = await startPortal(options);
    suite.browser = await launchChromium();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.portal?.stop();
  });
  return suite;
}
