/**
 * `startViewer()`: the OTLP/HTTP receiver and the web UI in one process, sharing one store, with
 * optional persistence to a file.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createOtlpHandler } from './otlp-receiver.js';
import { TraceStore } from './store.js';
import { createUiHandler } from './ui-server.js';

type Env = Record<string, string | undefined>;

/** Options of {@link startViewer}. Options given in code win over `TRACEWIRE_VIEWER_*` variables. */
export interface ViewerOptions {
  /** OTLP/HTTP port; 0 picks a free one. `TRACEWIRE_VIEWER_OTLP_PORT`; default 4318. */
  otlpPort?: number;
  /** Web UI port; 0 picks a free one. `TRACEWIRE_VIEWER_UI_PORT`; default 16686. */
  uiPort?: number;
  /** Address both servers bind to. `TRACEWIRE_VIEWER_HOST`; default `127.0.0.1` (this machine only). */
  host?: string;
  /** Most spans kept in memory. `TRACEWIRE_VIEWER_MAX_SPANS`; default 100000. */
  maxSpans?: number;
  /** Most bytes kept in memory (estimated). `TRACEWIRE_VIEWER_MAX_BYTES`; default 134217728 (128 MiB). */
  maxBytes?: number;
  /** Largest OTLP request body, compressed or not. `TRACEWIRE_VIEWER_MAX_REQUEST_BYTES`; default 33554432 (32 MiB). */
  maxRequestBytes?: number;
  /** File to load traces from at start and save them to (periodically and on close). `TRACEWIRE_VIEWER_FILE`; default none. */
  file?: string;
  /** How often the file is saved when something changed, in ms. Default 5000. */
  saveIntervalMs?: number;
  /** Where warnings go (bad `TRACEWIRE_VIEWER_*` values, an unreadable file). Default `console.warn`. */
  warn?: (message: string) => void;
  /** Environment to read `TRACEWIRE_VIEWER_*` from. Default `process.env`. */
  env?: Env;
}

/** A running viewer. */
export interface Viewer {
  /** Base URL of the OTLP/HTTP receiver (`OTEL_EXPORTER_OTLP_ENDPOINT`); traces go to `${otlpUrl}/v1/traces`. */
  otlpUrl: string;
  /** URL of the web UI (and of the JSON API under `/api`). */
  uiUrl: string;
  /** The trace store, for tests and embedding. */
  store: TraceStore;
  /** Saves the file now (when `file` is set). */
  save(): Promise<void>;
  /** Stops both servers and saves the file. */
  close(): Promise<void>;
}

const DEFAULTS = {
  otlpPort: 4318,
  uiPort: 16686,
  host: '127.0.0.1',
  maxRequestBytes: 32 * 1024 * 1024,
  saveIntervalMs: 5000,
};

function checkInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `startViewer: option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

function envInt(
  env: Env,
  name: string,
  min: number,
  max: number,
  warn: (m: string) => void,
): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    warn(`tracewire viewer: ignoring ${name}=${raw}: expected an integer from ${min} to ${max}`);
    return undefined;
  }
  return n;
}

function envString(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolveClose) => {
    if (!server.listening) {
      resolveClose();
      return;
    }
    server.close(() => resolveClose());
    server.closeIdleConnections();
    // Exporters keep connections alive; do not wait for them to time out.
    setTimeout(() => server.closeAllConnections(), 500).unref();
  });
}

/**
 * Starts the OTLP/HTTP receiver and the web UI.
 *
 * @example
 * import { startViewer } from '@tracewire/viewer';
 *
 * const viewer = await startViewer({ otlpPort: 0, uiPort: 0 });
 * process.env.OTEL_EXPORTER_OTLP_ENDPOINT = viewer.otlpUrl;
 * console.log(`open ${viewer.uiUrl}`);
 * // ...
 * await viewer.close();
 */
export async function startViewer(options: ViewerOptions = {}): Promise<Viewer> {
  const env = options.env ?? process.env;
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const otlpPort = checkInt(
    options.otlpPort ?? envInt(env, 'TRACEWIRE_VIEWER_OTLP_PORT', 0, 65535, warn) ?? DEFAULTS.otlpPort,
    'otlpPort',
    0,
    65535,
  );
  const uiPort = checkInt(
    options.uiPort ?? envInt(env, 'TRACEWIRE_VIEWER_UI_PORT', 0, 65535, warn) ?? DEFAULTS.uiPort,
    'uiPort',
    0,
    65535,
  );
  const host = options.host ?? envString(env, 'TRACEWIRE_VIEWER_HOST') ?? DEFAULTS.host;
  if (typeof host !== 'string' || host === '')
    throw new TypeError('startViewer: option host must be a non-empty string');
  const maxSpans = options.maxSpans ?? envInt(env, 'TRACEWIRE_VIEWER_MAX_SPANS', 1, 1e9, warn);
  const maxBytes =
    options.maxBytes ?? envInt(env, 'TRACEWIRE_VIEWER_MAX_BYTES', 1, Number.MAX_SAFE_INTEGER, warn);
  const maxRequestBytes = checkInt(
    options.maxRequestBytes ??
      envInt(env, 'TRACEWIRE_VIEWER_MAX_REQUEST_BYTES', 1, 2 ** 31 - 1, warn) ??
      DEFAULTS.maxRequestBytes,
    'maxRequestBytes',
    1,
    2 ** 31 - 1,
  );
  const file = options.file ?? envString(env, 'TRACEWIRE_VIEWER_FILE');
  if (file !== undefined && (typeof file !== 'string' || file === '')) {
    throw new TypeError('startViewer: option file must be a non-empty path');
  }
  const saveIntervalMs = checkInt(
    options.saveIntervalMs ?? DEFAULTS.saveIntervalMs,
    'saveIntervalMs',
    10,
    2 ** 31 - 1,
  );
  if (otlpPort !== 0 && otlpPort === uiPort) {
    throw new TypeError(`startViewer: options otlpPort and uiPort must differ, both are ${otlpPort}`);
  }

  const store = new TraceStore({
    ...(maxSpans !== undefined ? { maxSpans } : {}),
    ...(maxBytes !== undefined ? { maxBytes } : {}),
  });
  const filePath = file === undefined ? undefined : resolve(file);
  if (filePath !== undefined) await loadFile(store, filePath, warn);

  // Origins and Host values are only known once the ports are bound; the handlers read these sets.
  const allowedOrigins = new Set<string>();
  const allowedHosts = isLoopback(host) ? new Set<string>() : undefined;
  const info: Record<string, string> = {};
  const otlpServer = createServer(
    createOtlpHandler({
      store,
      maxRequestBytes,
      allowedOrigins,
      maxInflightBytes: Math.max(4 * maxRequestBytes, 64 * 1024 * 1024),
    }),
  );
  otlpServer.requestTimeout = 60_000;
  const uiServer = createServer(
    createUiHandler({
      store,
      publicDir: new URL('../public/', import.meta.url),
      allowedOrigins,
      allowedHosts,
      info,
    }),
  );
  let boundOtlp: number;
  let boundUi: number;
  try {
    boundOtlp = await listen(otlpServer, otlpPort, host);
    boundUi = await listen(uiServer, uiPort, host);
  } catch (err) {
    await closeServer(otlpServer);
    throw err;
  }
  const shownHost = urlHost(host);
  for (const h of new Set([shownHost, '127.0.0.1', 'localhost', '[::1]'])) {
    allowedOrigins.add(`http://${h}:${boundUi}`);
    allowedHosts?.add(`${h}:${boundUi}`);
  }
  const otlpUrl = `http://${shownHost}:${boundOtlp}`;
  const uiUrl = `http://${shownHost}:${boundUi}`;
  info.otlpUrl = otlpUrl;

  let savedVersion = store.version;
  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    if (filePath === undefined) return Promise.resolve();
    saving = saving.then(async () => {
      if (store.version === savedVersion) return;
      const version = store.version;
      try {
        await saveFile(store, filePath);
        savedVersion = version;
      } catch (err) {
        warn(`tracewire viewer: cannot save ${filePath}: ${(err as Error).message}`);
      }
    });
    return saving;
  };
  const timer = filePath === undefined ? undefined : setInterval(() => void save(), saveIntervalMs);
  timer?.unref();

  let closing: Promise<void> | undefined;
  return {
    otlpUrl,
    uiUrl,
    store,
    save,
    close() {
      closing ??= (async () => {
        if (timer !== undefined) clearInterval(timer);
        await Promise.all([closeServer(otlpServer), closeServer(uiServer)]);
        await save();
      })();
      return closing;
    },
  };
}

async function loadFile(store: TraceStore, path: string, warn: (m: string) => void): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      warn(`tracewire viewer: cannot read ${path}: ${(err as Error).message}`);
    }
    return;
  }
  try {
    store.load(JSON.parse(text));
  } catch (err) {
    // Keep the unreadable file aside rather than overwrite it with the next save.
    const aside = `${path}.unreadable-${Date.now()}`;
    await rename(path, aside).catch(() => {});
    warn(`tracewire viewer: ${path} is not a viewer file (${(err as Error).message}); moved to ${aside}`);
  }
}

/** Atomic save: write a temporary file beside the target, then rename over it. */
async function saveFile(store: TraceStore, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(store.snapshot()), { mode: 0o600 });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
