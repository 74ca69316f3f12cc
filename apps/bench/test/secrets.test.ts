/**
 * Secrets and trust (issue #8): by default no credentials leave the process. Asserted on what a
 * collector really receives: a real OTLP receiver decoding with the independent decoder, plus a
 * byte search of every export body for the secret values (so a secret cannot hide in an attribute
 * this test did not think of).
 * - `authorization`, `cookie`, `set-cookie`, `proxy-authorization` are never captured, even when
 *   listed in `captureHeaders` (any case);
 * - signature query values (SPEC.md section 3) and the keys given in `redactQueryKeys` are redacted
 *   on server spans (`url.query`) and client spans (`url.full`);
 * - userinfo is stripped from client `url.full`;
 * - trace context and baggage are sent only to destinations in `propagateTo`.
 */
import { createServer, get as httpGet, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { context, propagation } from '@opentelemetry/api';
import { start, type Tracewire } from '@tracewire/core';
import { tracewire } from '@tracewire/express';
import { type DecodedSpan, type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import express from 'express';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SIGNATURE_KEYS = [
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  'AWSAccessKeyId',
  'Signature',
  'sig',
  'X-Goog-Signature',
];

let receiver: OtlpReceiver;
let handle: Tracewire;
let app: Server;
let base: string;
/** Downstream A is listed in propagateTo; B is not. Each records the headers it received, by path. */
let downA: Server;
let downB: Server;
let portA: number;
let portB: number;
const seen = new Map<string, IncomingHttpHeaders>();

function downstream(): Promise<Server> {
  const s = createServer((req, res) => {
    seen.set(`${req.headers.host}${req.url}`, req.headers);
    res.end('ok');
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}
const port = (s: Server) => (s.address() as AddressInfo).port;

/** Resolves every name to 127.0.0.1: lets a request go to a public-looking host name with no network. */
const toLoopback = ((
  _host: string,
  opts: { all?: boolean },
  cb: (e: null, a: unknown, f?: number) => void,
) =>
  opts?.all
    ? cb(null, [{ address: '127.0.0.1', family: 4 }])
    : cb(null, '127.0.0.1', 4)) as unknown as LookupFunction;

/** An undici dispatcher that resolves every name to loopback. */
const publicAgent = new Agent({ connect: { lookup: toLoopback } });

function getText(
  url: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers, ...extra }, (r) => {
      let b = '';
      r.on('data', (d) => {
        b += d;
      });
      r.on('end', () => resolve(b));
    }).on('error', reject);
  });
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  downA = await downstream();
  downB = await downstream();
  portA = port(downA);
  portB = port(downB);
  handle = start({
    serviceName: 'secrets',
    otlp: { url: receiver.tracesUrl },
    batch: { scheduledDelayMillis: 20 },
    shutdownOnSignals: false,
    outgoing: { propagateTo: [`127.0.0.1:${portA}`], redactQueryKeys: ['token'] },
  });
  const a = express();
  a.use(
    tracewire({
      captureHeaders: {
        request: ['Authorization', 'COOKIE', 'proxy-authorization', 'x-request-id'],
        response: ['Set-Cookie', 'x-visible'],
      },
      redactQueryKeys: ['token', 'api_key'],
    }),
  );
  a.get('/login', (_req, res) => {
    res.setHeader('set-cookie', ['session=SECRET-SET-COOKIE; HttpOnly']);
    res.setHeader('x-visible', 'visible-value');
    res.send('ok');
  });
  a.get('/call', async (_req, res) => {
    // Baggage added by the app, on top of what came in: it must not leave for B.
    const bag = (propagation.getBaggage(context.active()) ?? propagation.createBaggage()).setEntry(
      'user.id',
      {
        value: 'SECRET-BAGGAGE',
      },
    );
    await context.with(propagation.setBaggage(context.active(), bag), async () => {
      // Propagation is checked through fetch: on Node 20, node:http offers no hook early enough to
      // add headers (`http.client.request.created` needs Node >= 22.12), so it never sends any.
      await (await fetch(`http://127.0.0.1:${portA}/a`)).text();
      await (await fetch(`http://127.0.0.1:${portB}/b`)).text();
      await getText(`http://127.0.0.1:${portB}/b-http`);
      await (await fetch(`http://127.0.0.1:${portB}/b-fetch?sig=SECRET-FETCH-SIG&page=1`)).text();
      // A public-looking host (resolved to loopback here): not listed, so nothing is sent to it.
      await (await undiciFetch(`http://api.example.com:${portB}/public`, { dispatcher: publicAgent })).text();
      await getText(`http://api.example.com:${portB}/public-http`, {}, { lookup: toLoopback });
      // Credentials in the URL and signature/token query values on a client request.
      await getText(
        `http://alice:SECRET-PASSWORD@127.0.0.1:${portA}/creds?X-Amz-Signature=SECRET-CLIENT-SIG&token=SECRET-CLIENT-TOKEN&ok=1`,
        { authorization: 'Bearer SECRET-CLIENT-AUTH', cookie: 'c=SECRET-CLIENT-COOKIE' },
      );
    });
    res.send('called');
  });
  app = createServer(a);
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${port(app)}`;
});

afterAll(async () => {
  app?.close();
  downA?.close();
  downB?.close();
  await publicAgent.close();
  await handle?.shutdown();
  await receiver?.close();
});

/** The request to /call (made once, shared by the client and propagation tests). */
let called: Promise<string> | undefined;
const callOnce = () =>
  (called ??= fetch(`${base}/call`, { headers: { baggage: 'tenant=acme' } }).then((r) => r.text()));

async function spansWhere(pred: (s: DecodedSpan) => boolean, n = 1): Promise<DecodedSpan[]> {
  await handle.forceFlush();
  return (await receiver.waitFor((all) => all.filter(pred).length >= n, 5000)).filter(pred);
}

/** No export body, as bytes on the wire after gzip is undone, contains any of these strings. */
function expectNoSecretsExported(secrets: string[]): void {
  for (const r of receiver.requests) {
    const text = r.body.toString('latin1');
    for (const secret of secrets) expect(text.includes(secret), `${secret} was exported`).toBe(false);
  }
}

describe('no credentials leave the process', () => {
  it('server span: secret headers never captured even when listed; signature and redactQueryKeys values redacted', async () => {
    const query = [
      ...SIGNATURE_KEYS.map((k) => `${k}=SECRET-${k.toUpperCase()}`),
      'token=SECRET-TOKEN',
      'api_key=SECRET-API-KEY',
      'page=2',
    ].join('&');
    const res = await fetch(`${base}/login?${query}`, {
      headers: {
        authorization: 'Bearer SECRET-AUTH',
        cookie: 'session=SECRET-COOKIE',
        'proxy-authorization': 'Basic SECRET-PROXY',
        'x-request-id': 'req-1',
      },
    });
    expect(res.status).toBe(200);
    const [span] = await spansWhere((s) => s.kind === 2 && s.attributes['url.path'] === '/login');
    expect(span!.attributes['url.query']).toBe(
      [...SIGNATURE_KEYS.map((k) => `${k}=REDACTED`), 'token=REDACTED', 'api_key=REDACTED', 'page=2'].join(
        '&',
      ),
    );
    expect(span!.attributes['http.request.header.x-request-id']).toEqual(['req-1']);
    expect(span!.attributes['http.response.header.x-visible']).toEqual(['visible-value']);
    for (const h of ['authorization', 'cookie', 'proxy-authorization']) {
      expect(span!.attributes[`http.request.header.${h}`]).toBeUndefined();
    }
    expect(span!.attributes['http.response.header.set-cookie']).toBeUndefined();
    expectNoSecretsExported([
      'SECRET-AUTH',
      'SECRET-COOKIE',
      'SECRET-PROXY',
      'SECRET-SET-COOKIE',
      'SECRET-TOKEN',
      'SECRET-API-KEY',
      ...SIGNATURE_KEYS.map((k) => `SECRET-${k.toUpperCase()}`),
    ]);
  });

  it('client spans: userinfo stripped from url.full, signature and token values redacted, auth headers not recorded', async () => {
    expect(await callOnce()).toBe('called');
    const [creds] = await spansWhere(
      (s) => s.kind === 3 && String(s.attributes['url.full']).includes('/creds'),
    );
    expect(creds!.attributes['url.full']).toBe(
      `http://127.0.0.1:${portA}/creds?X-Amz-Signature=REDACTED&token=REDACTED&ok=1`,
    );
    const [viaFetch] = await spansWhere(
      (s) => s.kind === 3 && String(s.attributes['url.full']).includes('/b-fetch'),
    );
    expect(viaFetch!.attributes['url.full']).toBe(`http://127.0.0.1:${portB}/b-fetch?sig=REDACTED&page=1`);
    for (const s of receiver.spans().filter((x) => x.kind === 3)) {
      expect(Object.keys(s.attributes).filter((k) => k.includes('header'))).toEqual([]);
    }
    expectNoSecretsExported([
      'SECRET-PASSWORD',
      'alice',
      'SECRET-CLIENT-SIG',
      'SECRET-CLIENT-TOKEN',
      'SECRET-CLIENT-AUTH',
      'SECRET-CLIENT-COOKIE',
      'SECRET-FETCH-SIG',
      'SECRET-BAGGAGE',
    ]);
  });

  it('trace context and baggage are sent only to destinations in propagateTo', async () => {
    expect(await callOnce()).toBe('called');
    // tracewire saw the request to the public host (a CLIENT span), and chose not to propagate.
    const [pub] = await spansWhere(
      (s) => s.kind === 3 && s.attributes['url.full'] === `http://api.example.com:${portB}/public`,
    );
    expect(pub!.attributes['server.address']).toBe('api.example.com');
    const a = seen.get(`127.0.0.1:${portA}/a`);
    expect(a?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
    expect(a?.baggage).toContain('user.id=SECRET-BAGGAGE');
    expect(a?.baggage).toContain('tenant=acme');
    for (const key of [
      `127.0.0.1:${portB}/b`,
      `127.0.0.1:${portB}/b-http`,
      `127.0.0.1:${portB}/b-fetch?sig=SECRET-FETCH-SIG&page=1`,
      `api.example.com:${portB}/public`,
      `api.example.com:${portB}/public-http`,
    ]) {
      const h = seen.get(key);
      expect(h, key).toBeDefined();
      for (const name of ['traceparent', 'tracestate', 'baggage', 'b3', 'x-b3-traceid']) {
        expect(h?.[name], `${name} sent to ${key}`).toBeUndefined();
      }
    }
  });
});
