#!/usr/bin/env node
/**
 * `npx @tracewire/viewer [--otlp-port 4318] [--ui-port 16686] [--host 127.0.0.1] [--file path]
 * [--max-spans n] [--max-bytes n]`: runs the viewer until Ctrl+C (the file is saved on exit).
 */
import { parseArgs } from 'node:util';
import { startViewer, type ViewerOptions } from './viewer.js';

const HELP = `Usage: tracewire-viewer [options]

A local OpenTelemetry trace viewer: an OTLP/HTTP receiver and a waterfall web UI.

Options (each also set by the environment variable shown; flags win):
  --otlp-port <n>          OTLP/HTTP port (0 = any free port)  TRACEWIRE_VIEWER_OTLP_PORT  [4318]
  --ui-port <n>            web UI port (0 = any free port)     TRACEWIRE_VIEWER_UI_PORT    [16686]
  --host <address>         address to bind                     TRACEWIRE_VIEWER_HOST       [127.0.0.1]
  --file <path>            keep traces in this file across restarts  TRACEWIRE_VIEWER_FILE
  --max-spans <n>          most spans kept in memory           TRACEWIRE_VIEWER_MAX_SPANS  [100000]
  --max-bytes <n>          most bytes kept in memory           TRACEWIRE_VIEWER_MAX_BYTES  [134217728]
  --max-request-bytes <n>  largest OTLP request body           TRACEWIRE_VIEWER_MAX_REQUEST_BYTES [33554432]
  -h, --help               show this help
`;

function fail(message: string): never {
  process.stderr.write(`tracewire-viewer: ${message}\n\n${HELP}`);
  process.exit(2);
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0)
    fail(`${flag} expects a whole number, got "${value}"`);
  return n;
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      'otlp-port': { type: 'string' },
      'ui-port': { type: 'string' },
      host: { type: 'string' },
      file: { type: 'string' },
      'max-spans': { type: 'string' },
      'max-bytes': { type: 'string' },
      'max-request-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}
try {
  parsed = parse();
} catch (err) {
  fail((err as Error).message);
}
const v = parsed.values;
if (v.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const options: ViewerOptions = {};
const otlpPort = int(v['otlp-port'], '--otlp-port');
if (otlpPort !== undefined) options.otlpPort = otlpPort;
const uiPort = int(v['ui-port'], '--ui-port');
if (uiPort !== undefined) options.uiPort = uiPort;
if (v.host !== undefined) options.host = v.host;
if (v.file !== undefined) options.file = v.file;
const maxSpans = int(v['max-spans'], '--max-spans');
if (maxSpans !== undefined) options.maxSpans = maxSpans;
const maxBytes = int(v['max-bytes'], '--max-bytes');
if (maxBytes !== undefined) options.maxBytes = maxBytes;
const maxRequestBytes = int(v['max-request-bytes'], '--max-request-bytes');
if (maxRequestBytes !== undefined) options.maxRequestBytes = maxRequestBytes;

let viewer: Awaited<ReturnType<typeof startViewer>>;
try {
  viewer = await startViewer(options);
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE')
    fail(`port already in use (${e.message}); choose another with --otlp-port/--ui-port`);
  fail(e.message);
}

process.stdout.write(
  `tracewire viewer\n` +
    `  UI        ${viewer.uiUrl}\n` +
    `  OTLP/HTTP ${viewer.otlpUrl}/v1/traces  (OTEL_EXPORTER_OTLP_ENDPOINT=${viewer.otlpUrl})\n` +
    ((options.file ?? process.env.TRACEWIRE_VIEWER_FILE)
      ? `  file      ${options.file ?? process.env.TRACEWIRE_VIEWER_FILE}\n`
      : '') +
    `Press Ctrl+C to stop.\n`,
);

let stopping = false;
function stop(signal: string): void {
  if (stopping) {
    process.exit(130);
  }
  stopping = true;
  process.stdout.write(`\n${signal}: stopping\n`);
  viewer.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`tracewire-viewer: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
