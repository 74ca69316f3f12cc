/**
 * The suite's plumbing: an SDK registered globally through `@opentelemetry/api` that exports over
 * OTLP/HTTP protobuf to a real receiver decoding with the independent decoder, and real HTTP
 * requests.
 */
import { start } from '@tracewire/core';
import { type DecodedSpan, type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { request } from 'node:http';

export const SPAN_KIND_SERVER = 2;
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

export interface Harness {
  readonly receiver: OtlpReceiver;
  /** The SERVER spans whose `url.path` is `path` once `count` of them arrived. */
  serverSpansFor(path: string, method?: string, count?: number): Promise<DecodedSpan[]>;
  shutdown(): Promise<void>;
}

/**
 * tracewire's own SDK, set up the way users do it: `start()` from @tracewire/core, exporting
 * OTLP/HTTP protobuf (batched, short delay) to the receiver. Outgoing-request tracing is off so the
 * suite's own HTTP client does not add CLIENT spans or trace headers to the requests under test.
 */
export async function startHarness(): Promise<Harness> {
  const receiver = await startOtlpReceiver();
  const sdk = start({
    serviceName: 'conformance',
    otlp: { url: receiver.tracesUrl },
    batch: { scheduledDelayMillis: 20 },
    outgoing: false,
    shutdownOnSignals: false,
  });
  const matching = (spans: DecodedSpan[], path: string, method: string) =>
    spans.filter(
      (s) =>
        s.kind === SPAN_KIND_SERVER &&
        s.attributes['url.path'] === path &&
        s.attributes['http.request.method'] === method,
    );
  return {
    receiver,
    async serverSpansFor(path, method = 'GET', count = 1) {
      const spans = await receiver.waitFor((s) => matching(s, path, method).length >= count, 8000);
      return matching(spans, path, method);
    },
    async shutdown() {
      await sdk.shutdown();
      await receiver.close();
    },
  };
}

export interface Reply {
  status: number;
  body: string;
}

/** One real request with node:http. */
export function send(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
