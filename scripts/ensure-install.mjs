#!/usr/bin/env node
// Installs the workspace with `npm ci` when node_modules is missing or older than package-lock.json,
// so `npm start` and `npm test` work on a fresh clone with one command each.
import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lock = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.tracewire-install-stamp');
const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';

if (want !== have) {
  console.log('tracewire: installing dependencies (npm ci)…');
  try {
    execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
  } catch {
    // npm 11 can refuse its own lock file ("Missing: @rollup/rollup-darwin-x64@ from lock file"):
    // it records only this platform's optional native packages, then `npm ci` asks for all of them
    // (npm/cli#4828). `npm install` installs from the same lock file, adding only what is missing.
    console.log('tracewire: npm ci refused the lock file (npm/cli#4828); installing with npm install…');
    execSync('npm install --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
  }
  // Stamp what is on disk now (npm install may have completed the lock file).
  writeFileSync(stamp, `${createHash('sha256').update(readFileSync(lock)).digest('hex')}\n`);
}
