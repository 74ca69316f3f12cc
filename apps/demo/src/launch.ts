/**
 * Starts the four demo services as separate Node processes (each with its own `start()` and
 * service name, as in production), wired to each other on 127.0.0.1 and exporting to `otlpEndpoint`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface DemoOptions {
  /** OTLP/HTTP base URL the services export to (OTEL_EXPORTER_OTLP_ENDPOINT). */
  otlpEndpoint: string;
  /** Fixed port for the gateway (default: a free port). The other services always use free ports. */
  gatewayPort?: number;
  /** Node binary to run the services with. Default: the current one. */
  nodeBin?: string;
  /** Extra environment for every service. */
  env?: Record<string, string>;
}

export interface Demo {
  gatewayUrl: string;
  urls: Record<'gateway' | 'orders' | 'inventory' | 'payments', string>;
  /** SIGTERM every service (each flushes its spans) and wait for them to exit. */
  stop(): Promise<void>;
}

interface Running {
  child: ChildProcess;
  url: string;
}

function startService(name: string, env: Record<string, string>, opts: DemoOptions): Promise<Running> {
  const child = spawn(opts.nodeBin ?? process.execPath, [join(here, 'services', `${name}.js`)], {
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: opts.otlpEndpoint,
      // Export every half second so traces show up in the viewer right away.
      OTEL_BSP_SCHEDULE_DELAY: '500',
      ...opts.env,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      child.off('exit', onExit);
      const { port } = JSON.parse(buf.slice(0, nl)) as { port: number };
      resolve({ child, url: `http://127.0.0.1:${port}` });
    };
    const onExit = (code: number | null) =>
      reject(new Error(`demo service ${name} exited with ${code} before listening`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const started: Running[] = [];
  try {
    const [inventory, payments] = await Promise.all([
      startService('inventory', { PORT: '0' }, opts),
      startService('payments', { PORT: '0' }, opts),
    ]);
    started.push(inventory, payments);
    const orders = await startService(
      'orders',
      { PORT: '0', INVENTORY_URL: inventory.url, PAYMENTS_URL: payments.url },
      opts,
    );
    started.push(orders);
    const gateway = await startService(
      'gateway',
      { PORT: String(opts.gatewayPort ?? 0), ORDERS_URL: `${orders.url}/api` },
      opts,
    );
    started.push(gateway);
    return {
      gatewayUrl: gateway.url,
      urls: { gateway: gateway.url, orders: orders.url, inventory: inventory.url, payments: payments.url },
      stop: async () => {
        await Promise.all(started.map((s) => stopChild(s.child)));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => stopChild(s.child)));
    throw err;
  }
}
