#!/usr/bin/env node
// Fails when `npm pack` of the package in the current directory would publish anything but
// dist/, README.md, LICENSE and package.json (issue: published packages contain only those; the
// viewer also ships its static page, public/), or would miss one of its entry points.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const [info] = JSON.parse(
  execSync('npm pack --dry-run --json --ignore-scripts', {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }),
);
const extraDirs = pkg.name === '@tracewire/viewer' ? ['public/'] : [];
const allowed = (p) =>
  p.startsWith('dist/') ||
  extraDirs.some((d) => p.startsWith(d)) ||
  ['README.md', 'LICENSE', 'package.json'].includes(p);
const bad = info.files.map((f) => f.path).filter((p) => !allowed(p));
const entries = pkg.exports?.['.']?.require
  ? ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']
  : ['dist/index.js', 'dist/index.d.ts'];
const must = ['README.md', 'LICENSE', 'package.json', ...entries];
const missing = must.filter((m) => !info.files.some((f) => f.path === m));
// Runtime dependencies: only tracewire's own packages (DESIGN.md); the OpenTelemetry API and the
// frameworks are peers. With nothing third-party installed at run time, there is nothing for
// `npm audit --omit=dev` to flag in what users install from us.
const thirdParty = Object.keys(pkg.dependencies ?? {}).filter((d) => !d.startsWith('@tracewire/'));
if (thirdParty.length) {
  console.error(
    `runtime dependencies must be @tracewire/* only (peers for the rest): ${thirdParty.join(', ')}`,
  );
  process.exit(1);
}
console.log(
  `${info.name}@${info.version}: ${info.files.length} files, ${(info.size / 1024).toFixed(1)} KiB packed`,
);
if (bad.length || missing.length) {
  if (bad.length) console.error(`unexpected files in the package: ${bad.join(', ')}`);
  if (missing.length) console.error(`missing from the package: ${missing.join(', ')}`);
  process.exit(1);
}
