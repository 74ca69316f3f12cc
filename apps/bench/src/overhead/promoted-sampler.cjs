'use strict';
// Preloaded into a benchmark server by `gc.mjs --sample` (with `--expose-gc`): where the objects
// that survive the young generation were allocated. The first SIGUSR2 starts V8's sampling heap
// profiler with the samples of objects a scavenge frees left out (those a mark-compact frees are
// kept), the second forces two scavenges, so that young garbage not yet collected drops out too,
// stops it and writes the allocation stacks by bytes to PROMOTED_SAMPLE_OUT as JSON lines.
// With PROMOTED_SAMPLE_ALL=1 (`gc.mjs --sample-all`) every allocation is kept instead, garbage
// included: where a request's bytes are allocated, whether they survive or not.
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');

const out = process.env.PROMOTED_SAMPLE_OUT;
const all = process.env.PROMOTED_SAMPLE_ALL === '1';
const session = new Session();
session.connect();
let sampling = false;

function frame(node) {
  const f = node.callFrame;
  const file = f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${file}`.trim();
}

process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 8192,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: all,
    });
    return;
  }
  sampling = false;
  if (!all && typeof global.gc === 'function') {
    global.gc({ type: 'minor' });
    global.gc({ type: 'minor' });
  }
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) {
      writeFileSync(out, `${JSON.stringify({ error: String(err) })}\n`);
      return;
    }
    const bytes = new Map();
    const walk = (node, stack) => {
      const here = [...stack, frame(node)];
      if (node.selfSize > 0) {
        // The innermost six frames, innermost first: where, and on whose behalf.
        const key = here.slice(-6).reverse().join(' < ');
        bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
      }
      for (const child of node.children) walk(child, here);
    };
    walk(result.profile.head, []);
    const rows = [...bytes]
      .sort((a, b) => b[1] - a[1])
      .map(([stack, n]) => JSON.stringify({ bytes: n, stack }));
    writeFileSync(out, `${rows.join('\n')}\n`);
  });
});
