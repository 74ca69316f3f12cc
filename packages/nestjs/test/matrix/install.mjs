#!/usr/bin/env node
/**
 * Installs each Nest major of the version matrix into its own directory (nest10, nest11, nest12).
 * `@nestjs/core` resolves `@nestjs/common` by name, so npm aliases cannot hold three majors in one
 * tree; each directory is a private, non-workspace project instead. An install is skipped when the
 * directory already has every dependency at the pinned major. Used by the vitest globalSetup and
 * runnable by hand: `node packages/nestjs/test/matrix/install.mjs [nest10 ...]`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MATRIX_DIR = dirname(fileURLToPath(import.meta.url));
export const MAJORS = ['nest10', 'nest11', 'nest12'];

function installed(dir) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const [name, range] of Object.entries(pkg.dependencies)) {
    const file = join(dir, 'node_modules', name, 'package.json');
    if (!existsSync(file)) return false;
    const major = range.replace(/^[\^~]/, '').split('.')[0];
    const version = JSON.parse(readFileSync(file, 'utf8')).version;
    if (version.split('.')[0] !== major) return false;
  }
  return true;
}

export function installMatrix(majors = MAJORS, log = console.log) {
  for (const name of majors) {
    const dir = join(MATRIX_DIR, name);
    if (installed(dir)) continue;
    log(`[nest matrix] npm install in ${name} ...`);
    const started = Date.now();
    execFileSync(
      'npm',
      ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', '--loglevel=error'],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    log(`[nest matrix] ${name} installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  installMatrix(args.length > 0 ? args : MAJORS);
}
