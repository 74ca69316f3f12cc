/**
 * Small pieces every demo service shares: reading its configuration from the environment,
 * announcing its port to the launcher, and calling the next service with plain `fetch`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`demo: ${name} is not set`);
  return v;
};

/** The launcher reads this first line to learn the port (services listen on 127.0.0.1, port 0 by default). */
export function announce(service: string, server: Server): void {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ service, port })}\n`);
}

/** POST/DELETE JSON to another service with plain fetch: tracewire adds the CLIENT span and `traceparent`. */
export async function call(
  method: 'POST' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stop cleanly on SIGTERM: close the server; tracewire's signal handling flushes the spans. */
export function closeOnSignal(close: () => Promise<unknown> | void): void {
  process.once('SIGTERM', async () => {
    try {
      await close();
    } finally {
      process.exit(0);
    }
  });
}
