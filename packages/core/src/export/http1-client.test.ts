/**
 * The exporter's HTTP/1.1 client against collectors that answer in every way HTTP/1.1 allows
 * (chunked, interim 1xx, no length, connection: close, responses split into single bytes) and in
 * ways it does not (not HTTP at all): raw TCP servers on 127.0.0.1, checked through what the
 * exporter reports.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ExportResultCode, type ReadableSpan } from '../sdk/types.js';
import { SDK_VERSION } from '../sdk/version.js';
import { type CountedExportResult, OtlpHttpExporter } from './otlp-http-exporter.js';
import { exportOnce, httpSpans } from './test-spans.js';

interface RawRequest {
  head: string;
  body: Buffer;
}

/** A TCP server that parses each request (head + content-length body) and lets `answer` reply. */
async function rawCollector(answer: (socket: Socket, req: RawRequest, n: number) => void) {
  const requests: RawRequest[] = [];
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.toString('latin1', 0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const req = { head, body: buf.subarray(end + 4, end + 4 + length) };
        buf = buf.subarray(end + 4 + length);
        requests.push(req);
        answer(socket, req, requests.length);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const close = () => new Promise<void>((r) => server.close(() => r()));
  servers.push(close);
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    port,
    requests,
    connections: () => connections,
  };
}

const servers: Array<() => Promise<void>> = [];
const exporters: OtlpHttpExporter[] = [];
afterEach(async () => {
  await Promise.all(exporters.splice(0).map((e) => e.shutdown()));
  // Server-side sockets a test left open would keep close() waiting.
  await Promise.race([
    Promise.all(servers.splice(0).map((c) => c())),
    new Promise((r) => setTimeout(r, 200)),
  ]);
});

const spans = (n: number) => httpSpans(n);
const make = (url: string, opts: Partial<ConstructorParameters<typeof OtlpHttpExporter>[0]> = {}) => {
  const e = new OtlpHttpExporter({ url, env: {}, timeoutMillis: 2000, ...opts });
  exporters.push(e);
  return e;
};
const send = (e: OtlpHttpExporter, s: ReadableSpan[]) => exportOnce<CountedExportResult>(e, s);

/** ExportTraceServiceResponse { partial_success { rejected_spans, error_message } } by hand. */
function partialSuccess(rejected: number, message: string): Buffer {
  const msg = Buffer.from(message);
  const inner = Buffer.concat([Buffer.from([0x08, rejected, 0x12, msg.length]), msg]);
  return Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
}

const ok = 'HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n';

describe('OtlpHttpExporter over HTTP/1.1: requests', () => {
  it('sends a well-formed POST: host, content type and length, user agent, headers, basic auth from the URL', async () => {
    const c = await rawCollector((s) => s.write(ok));
    const url = new URL(c.url);
    url.username = 'tenant';
    url.password = 'p@ss';
    const r = await send(make(url.toString(), { headers: { 'x-scope': 'a b' } }), spans(3));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    const [req] = c.requests;
    const lines = req!.head.split('\r\n');
    expect(lines[0]).toBe('POST /v1/traces HTTP/1.1');
    expect(lines).toContain(`host: 127.0.0.1:${c.port}`);
    expect(lines).toContain('content-type: application/x-protobuf');
    expect(lines).toContain(`content-length: ${req!.body.length}`);
    expect(lines).toContain('x-scope: a b');
    expect(lines).toContain(`authorization: Basic ${Buffer.from('tenant:p@ss').toString('base64')}`);
    expect(lines).toContain(`user-agent: tracewire-otlp-exporter/${SDK_VERSION}`);
    expect(req!.body.length).toBeGreaterThan(100);
  });

  it('keeps one connection for consecutive exports, and opens a new one after connection: close', async () => {
    const c = await rawCollector((s, _req, n) =>
      s.write(n === 2 ? ok.replace('\r\n\r\n', '\r\nconnection: close\r\n\r\n') : ok),
    );
    const e = make(c.url);
    for (let i = 0; i < 4; i++) expect((await send(e, spans(1))).code).toBe(ExportResultCode.SUCCESS);
    // Requests 1 and 2 on the first connection (2 said close), 3 and 4 on the second.
    expect(c.connections()).toBe(2);
  });

  it('reconnects when the collector closed an idle connection between exports', async () => {
    const c = await rawCollector((s) => {
      s.write(ok);
      setTimeout(() => s.destroy(), 20);
    });
    const e = make(c.url);
    expect((await send(e, spans(1))).code).toBe(ExportResultCode.SUCCESS);
    await new Promise((r) => setTimeout(r, 100));
    const second = await send(e, spans(1));
    expect(second.code).toBe(ExportResultCode.SUCCESS);
    expect(second.spans).toEqual({ exported: 1, failed: 0 });
    expect(c.connections()).toBe(2);
  });
});

describe('OtlpHttpExporter over HTTP/1.1: responses', () => {
  it('reads a chunked response (a partial success split across chunks)', async () => {
    const body = partialSuccess(2, 'two too old');
    const c = await rawCollector((s) => {
      s.write(
        'HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n\r\n',
      );
      s.write(`3;ext=1\r\n`);
      s.write(Buffer.concat([body.subarray(0, 3), Buffer.from('\r\n')]));
      s.write(`${(body.length - 3).toString(16)}\r\n`);
      s.write(Buffer.concat([body.subarray(3), Buffer.from('\r\n0\r\nx-trailer: 1\r\n\r\n')]));
    });
    const r = await send(make(c.url), spans(5));
    expect(r.spans).toEqual({ exported: 3, failed: 2 });
    expect(r.error?.message).toContain('two too old');
  });

  it('skips an interim 100 Continue, and parses a response that arrives one byte at a time', async () => {
    const body = partialSuccess(1, 'one');
    const wire = Buffer.concat([
      Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'),
      Buffer.from(
        `HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`,
      ),
      body,
    ]);
    const c = await rawCollector((s) => {
      let i = 0;
      const next = () => {
        if (i < wire.length) s.write(wire.subarray(i, ++i), () => setImmediate(next));
      };
      next();
    });
    const r = await send(make(c.url), spans(4));
    expect(r.spans).toEqual({ exported: 3, failed: 1 });
  });

  it('reads a response without length until the collector closes the connection', async () => {
    const c = await rawCollector((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\n\r\n');
      s.end(partialSuccess(1, 'closed'));
    });
    const e = make(c.url);
    expect((await send(e, spans(2))).spans).toEqual({ exported: 1, failed: 1 });
    expect((await send(e, spans(2))).spans).toEqual({ exported: 1, failed: 1 });
    expect(c.connections()).toBe(2);
  });

  it('retries a 503 and then succeeds on the same connection', async () => {
    const c = await rawCollector((s, _r, n) =>
      s.write(n === 1 ? 'HTTP/1.1 503 Busy\r\nretry-after: 0\r\ncontent-length: 4\r\n\r\nbusy' : ok),
    );
    const r = await send(make(c.url), spans(2));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(c.requests).toHaveLength(2);
    expect(c.connections()).toBe(1);
  });

  it('fails with a clear error when the collector does not speak HTTP', async () => {
    const c = await rawCollector((s) => s.end('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    const r = await send(make(c.url, { timeoutMillis: 300 }), spans(1));
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(String(r.error?.message)).toMatch(/did not answer with HTTP\/1\.x/);
  });

  it('reports a 400 with its body and does not retry it', async () => {
    const c = await rawCollector((s) =>
      s.write(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 11\r\n\r\nbad payload',
      ),
    );
    const r = await send(make(c.url), spans(1));
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(String(r.error?.message)).toContain('HTTP 400');
    expect(c.requests).toHaveLength(1);
  });
});
