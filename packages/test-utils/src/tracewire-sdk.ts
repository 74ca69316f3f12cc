/**
 * Test support: a real OTLP receiver (independent decoder) and tracewire's own SDK (`start()` from
 * @tracewire/core) exporting to it over OTLP/HTTP protobuf, set up as users do. The published-build
 * tests (dist.test.ts) run on the official SDK instead: the adapter only talks to
 * `@opentelemetry/api`, so both must work.
 */
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { start } from '@tracewire/core';
import { type DecodedSpan, type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';

export interface Tracing {
  receiver: OtlpReceiver;
  /** Warnings and errors told to `diag`. */
  diagMessages: string[];
  shutdown(): Promise<void>;
}

export async function setupTracing(): Promise<Tracing> {
  const receiver = await startOtlpReceiver();
  const sdk = start({
    serviceName: 'adapter-tests',
    otlp: { url: receiver.tracesUrl },
    batch: { scheduledDelayMillis: 10 },
    outgoing: false,
    shutdownOnSignals: false,
  });
  const diagMessages: string[] = [];
  diag.setLogger(
    {
      error: (m: string) => diagMessages.push(m),
      warn: (m: string) => diagMessages.push(m),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  return {
    receiver,
    diagMessages,
    async shutdown() {
      await sdk.shutdown();
      diag.disable();
      await receiver.close();
    },
  };
}

export const SERVER = 2;
export const INTERNAL = 1;
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

/** Spans of one trace, once `count` of them arrived. */
export async function traceOf(
  receiver: OtlpReceiver,
  traceId: string,
  count: number,
): Promise<DecodedSpan[]> {
  const all = await receiver.waitFor((s) => s.filter((x) => x.traceId === traceId).length >= count);
  return all.filter((x) => x.traceId === traceId);
}

/** A fresh W3C trace id and a traceparent header carrying it (sampled), so each test finds its own spans. */
export function newTraceparent(): { traceId: string; parentId: string; header: string } {
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const traceId = `${hex(31)}1`;
  const parentId = `${hex(15)}1`;
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
}

/** Waits a little and returns the spans of a trace: for asserting that nothing more (a duplicate) arrived. */
export async function settle(receiver: OtlpReceiver, traceId: string, ms = 150): Promise<DecodedSpan[]> {
  await new Promise((r) => setTimeout(r, ms));
  return receiver.spans().filter((s) => s.traceId === traceId);
}
