// Certificates for the end-to-end tests, made at test time.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..');

/// A fresh key and certificate made now by the test-certificate example (rcgen), built by
/// `cargo test`; built here when missing.
export function makeCertificate(...hosts) {
  const tool = process.env.GATEHOUSE_CERT_TOOL ?? join(repo, 'target', 'debug', 'examples', 'test-certificate');
  const output = existsSync(tool)
    ? execFileSync(tool, hosts)
    : execFileSync('cargo', ['run', '-q', '-p', 'gatehouse', '--example', 'test-certificate', '--', ...hosts], { cwd: repo });
  return JSON.parse(output.toString());
}
