/** Shared by the demo tests: the viewer, the four services (built dist/), and viewer API queries. */
import { startViewer, type Viewer } from '@tracewire/viewer';
import type { Demo } from '../src/launch.js';

export interface ApiSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  status: { code: number; message: string };
  attributes: { key: string; value: Record<string, unknown> }[];
  events: { name: string; attributes: { key: string; value: Record<string, unknown> }[] }[];
}
export interface ApiTrace {
  traceId: string;
  services: string[];
  spanCount: number;
  errorCount: number;
  missingRoot: boolean;
  spans: ApiSpan[];
}

export async function startAll(): Promise<{ viewer: Viewer; demo: Demo }> {
  const viewer = await startViewer({ otlpPort: 0, uiPort: 0, host: '127.0.0.1' });
  // The services run from the build (apps/demo/dist), as `npm start` runs them.
  const { startDemo } = (await import(
    new URL('../dist/launch.js', import.meta.url).href
  )) as typeof import('../src/launch.js');
  const demo = await startDemo({ otlpEndpoint: viewer.otlpUrl, env: { OTEL_BSP_SCHEDULE_DELAY: '200' } });
  return { viewer, demo };
}

export async function getTrace(viewer: Viewer, traceId: string): Promise<ApiTrace | undefined> {
  const res = await fetch(`${viewer.uiUrl}/api/traces/${traceId}`);
  if (res.status === 404) return undefined;
  return (await res.json()) as ApiTrace;
}

/** Polls the viewer until the trace has at least `spans` spans (they arrive from four processes). */
export async function waitForTrace(
  viewer: Viewer,
  traceId: string,
  spans: number,
  timeoutMs = 15_000,
): Promise<ApiTrace> {
  const deadline = Date.now() + timeoutMs;
  let last: ApiTrace | undefined;
  while (Date.now() < deadline) {
    last = await getTrace(viewer, traceId);
    if (last && last.spans.length >= spans) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(
    `trace ${traceId} has ${last?.spans.length ?? 0} spans after ${timeoutMs} ms, expected ${spans}: ${last?.spans.map((s) => `${s.service}:${s.name}`).join(', ')}`,
  );
}

export const attr = (s: ApiSpan, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  if (v === undefined) return undefined;
  // The viewer's API is OTLP/JSON-shaped: 64-bit integers are decimal strings.
  return 'intValue' in v ? Number(v.intValue) : Object.values(v)[0];
};
