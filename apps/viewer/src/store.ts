/**
 * The viewer's in-memory trace store: spans are grouped by trace id as they arrive, in any order
 * and from any number of requests; the store stays under a span count and an (estimated) byte
 * budget by evicting the least recently updated traces, and counts what it evicted.
 */
import type { AnyValue, KeyValue, OtlpResource, OtlpScope, SpanRecord } from './model.js';
import { decodePersistedSpans } from './otlp-json-decode.js';

/** Options of {@link TraceStore}. */
export interface TraceStoreOptions {
  /** Most spans kept; older traces are evicted beyond it. Default 100,000. */
  maxSpans?: number;
  /** Most bytes kept (estimated size of the decoded spans and their resources). Default 128 MiB. */
  maxBytes?: number;
}

/** Filters of {@link TraceStore.list}. */
export interface TraceQuery {
  /** Only traces with at least one span from this `service.name`. */
  service?: string;
  /** Only traces with a span whose `http.route` is exactly this. */
  route?: string;
  /** `error`: traces with a span whose status is ERROR; `ok`: the others. */
  status?: 'ok' | 'error';
  /** Only traces lasting at least this long. */
  minDurationMs?: number;
  /** Most summaries returned (newest first). Default 100. */
  limit?: number;
}

/** One line of the trace list. */
export interface TraceSummary {
  traceId: string;
  /** Name of the root span; when the root has not arrived, of the earliest span without a known parent. */
  rootName: string;
  /** `service.name` of that span. */
  rootService: string;
  /** True when no span of the trace is a root (its root is missing or not received yet). */
  missingRoot: boolean;
  /** Every service in the trace, in order of first appearance. */
  services: string[];
  /** `http.route` values seen in the trace. */
  routes: string[];
  spanCount: number;
  errorCount: number;
  /** Earliest span start, milliseconds since the epoch. */
  startTimeMs: number;
  /** Earliest span start, nanoseconds since the epoch (exact, decimal). */
  startTimeUnixNano: string;
  /** From the earliest start to the latest end, in milliseconds. */
  durationMs: number;
}

/** One span of {@link TraceDetail}: the received span plus what the waterfall needs. */
export interface TraceDetailSpan extends SpanRecord {
  service: string;
  /** Nesting level in the waterfall (0 for roots and orphans). */
  depth: number;
  /** True when the span names a parent that is not in the trace. */
  orphan: boolean;
  /** Start relative to the trace start, in milliseconds (computed from exact nanoseconds). */
  startOffsetMs: number;
  durationMs: number;
}

/** A whole trace: its summary and its spans in waterfall order (depth first, children by start). */
export interface TraceDetail extends TraceSummary {
  spans: TraceDetailSpan[];
}

/** Counters of {@link TraceStore}. */
export interface StoreStats {
  /** Spans accepted since start. */
  spansReceived: number;
  /** Spans refused by the receiver since start (invalid ids). */
  spansRejected: number;
  /** Export requests accepted since start. */
  requests: number;
  /** Traces and spans kept now. */
  traces: number;
  spans: number;
  /** Estimated bytes kept now. */
  bytes: number;
  /** Traces and spans evicted since start to stay within the limits. */
  evictedTraces: number;
  evictedSpans: number;
  maxSpans: number;
  maxBytes: number;
}

interface StoredSpan {
  rec: SpanRecord;
  service: string;
  startMs: number;
  endMs: number;
  bytes: number;
}

interface TraceEntry {
  traceId: string;
  spans: Map<string, StoredSpan>;
  resources: Map<OtlpResource, number>;
  bytes: number;
  summary: TraceSummary | undefined;
}

const DEFAULT_MAX_SPANS = 100_000;
const DEFAULT_MAX_BYTES = 128 * 1024 * 1024;

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`TraceStore: option ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Nanoseconds (decimal string) to milliseconds, exact to well under a microsecond. */
export function nanosToMs(nanos: string): number {
  if (nanos.length <= 15) return Number(nanos) / 1e6;
  return Number(nanos.slice(0, -6)) + Number(nanos.slice(-6)) / 1e6;
}

function valueBytes(v: AnyValue, depth = 0): number {
  if ('stringValue' in v) return 32 + v.stringValue.length;
  if ('bytesValue' in v) return 32 + v.bytesValue.length;
  if ('intValue' in v) return 48 + v.intValue.length;
  if ('arrayValue' in v && depth < 64) {
    let n = 48;
    for (const x of v.arrayValue.values) n += valueBytes(x, depth + 1);
    return n;
  }
  if ('kvlistValue' in v && depth < 64) return 48 + attrsBytes(v.kvlistValue.values, depth + 1);
  return 32;
}

function attrsBytes(kvs: KeyValue[], depth = 0): number {
  let n = 16;
  for (const kv of kvs) n += 48 + kv.key.length + valueBytes(kv.value, depth);
  return n;
}

/** Rough retained size of a span without its resource (objects, strings and ids). */
function spanBytes(s: SpanRecord): number {
  let n = 480 + s.name.length + s.traceState.length + s.status.message.length + attrsBytes(s.attributes);
  for (const e of s.events) n += 96 + e.name.length + attrsBytes(e.attributes);
  for (const l of s.links) n += 160 + l.traceState.length + attrsBytes(l.attributes);
  return n;
}

function resourceBytes(r: OtlpResource): number {
  return 64 + r.schemaUrl.length + attrsBytes(r.attributes);
}

function stringAttr(kvs: KeyValue[], key: string): string | undefined {
  for (const kv of kvs) {
    if (kv.key === key && 'stringValue' in kv.value) return kv.value.stringValue;
  }
  return undefined;
}

/** The `service.name` of a resource; the SDK default when it is missing (resource semconv). */
export function serviceOf(resource: OtlpResource): string {
  return stringAttr(resource.attributes, 'service.name') ?? 'unknown_service';
}

/**
 * Bounded store of traces assembled from spans received in any order.
 *
 * @example
 * const store = new TraceStore({ maxSpans: 10_000 });
 * store.add(decoded.spans);
 * store.list({ status: 'error' });
 */
export class TraceStore {
  readonly maxSpans: number;
  readonly maxBytes: number;
  /** Insertion order = least recently updated first (an update re-inserts the trace). */
  private readonly traces = new Map<string, TraceEntry>();
  private spanCount = 0;
  private byteCount = 0;
  private readonly counters = {
    spansReceived: 0,
    spansRejected: 0,
    requests: 0,
    evictedTraces: 0,
    evictedSpans: 0,
  };
  /** Bumped on every change, so savers and pollers can tell whether anything happened. */
  version = 0;
  private readonly listeners = new Set<() => void>();

  constructor(options: TraceStoreOptions = {}) {
    this.maxSpans = positiveInt(options.maxSpans, 'maxSpans', DEFAULT_MAX_SPANS);
    this.maxBytes = positiveInt(options.maxBytes, 'maxBytes', DEFAULT_MAX_BYTES);
  }

  /** Adds spans (a span already present, same trace and span id, is replaced), then evicts. */
  add(spans: readonly SpanRecord[]): void {
    if (spans.length === 0) return;
    const touched = new Set<TraceEntry>();
    for (const rec of spans) {
      let entry = this.traces.get(rec.traceId);
      if (entry === undefined) {
        entry = {
          traceId: rec.traceId,
          spans: new Map(),
          resources: new Map(),
          bytes: 0,
          summary: undefined,
        };
        this.traces.set(rec.traceId, entry);
      } else if (!touched.has(entry)) {
        // Move to the most recently updated end of the eviction order.
        this.traces.delete(rec.traceId);
        this.traces.set(rec.traceId, entry);
      }
      touched.add(entry);
      const stored: StoredSpan = {
        rec,
        service: serviceOf(rec.resource),
        startMs: nanosToMs(rec.startTimeUnixNano),
        endMs: nanosToMs(rec.endTimeUnixNano),
        bytes: spanBytes(rec),
      };
      const previous = entry.spans.get(rec.spanId);
      if (previous !== undefined) this.removeSpanBytes(entry, previous);
      else this.spanCount++;
      entry.spans.set(rec.spanId, stored);
      entry.bytes += stored.bytes;
      this.byteCount += stored.bytes;
      const refs = entry.resources.get(rec.resource);
      if (refs === undefined) {
        const rb = resourceBytes(rec.resource);
        entry.resources.set(rec.resource, 1);
        entry.bytes += rb;
        this.byteCount += rb;
      } else entry.resources.set(rec.resource, refs + 1);
      entry.summary = undefined;
    }
    this.counters.spansReceived += spans.length;
    this.evict();
    this.changed();
  }

  /** Records one accepted export request and the spans refused in it. */
  recordRequest(rejected: number): void {
    this.counters.requests++;
    this.counters.spansRejected += rejected;
    if (rejected > 0) this.changed();
  }

  private removeSpanBytes(entry: TraceEntry, s: StoredSpan): void {
    entry.bytes -= s.bytes;
    this.byteCount -= s.bytes;
    const refs = entry.resources.get(s.rec.resource) ?? 1;
    if (refs <= 1) {
      entry.resources.delete(s.rec.resource);
      const rb = resourceBytes(s.rec.resource);
      entry.bytes -= rb;
      this.byteCount -= rb;
    } else entry.resources.set(s.rec.resource, refs - 1);
  }

  private evict(): void {
    for (const entry of this.traces.values()) {
      if (this.spanCount <= this.maxSpans && this.byteCount <= this.maxBytes) return;
      this.traces.delete(entry.traceId);
      this.spanCount -= entry.spans.size;
      this.byteCount -= entry.bytes;
      this.counters.evictedTraces++;
      this.counters.evictedSpans += entry.spans.size;
    }
  }

  private changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  /** Calls `listener` after every change; returns a function that unsubscribes. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Counters and current size. */
  stats(): StoreStats {
    return {
      ...this.counters,
      traces: this.traces.size,
      spans: this.spanCount,
      bytes: this.byteCount,
      maxSpans: this.maxSpans,
      maxBytes: this.maxBytes,
    };
  }

  /** Every `service.name` currently stored, sorted. */
  services(): string[] {
    const set = new Set<string>();
    // From the cached summaries: the page asks for this on every refresh.
    for (const t of this.traces.values()) for (const s of this.summarize(t).services) set.add(s);
    return [...set].sort();
  }

  /** Every `http.route` currently stored, sorted. */
  routes(): string[] {
    const set = new Set<string>();
    for (const t of this.traces.values()) for (const r of this.summarize(t).routes) set.add(r);
    return [...set].sort();
  }

  /** Summaries matching `query`, newest (by start time) first. */
  list(query: TraceQuery = {}): TraceSummary[] {
    const limit = query.limit ?? 100;
    const out: TraceSummary[] = [];
    for (const t of this.traces.values()) {
      const s = this.summarize(t);
      if (query.service !== undefined && !s.services.includes(query.service)) continue;
      if (query.route !== undefined && !s.routes.includes(query.route)) continue;
      if (query.status === 'error' && s.errorCount === 0) continue;
      if (query.status === 'ok' && s.errorCount > 0) continue;
      if (query.minDurationMs !== undefined && s.durationMs < query.minDurationMs) continue;
      out.push(s);
    }
    out.sort((a, b) => b.startTimeMs - a.startTimeMs || (a.traceId < b.traceId ? -1 : 1));
    return out.length > limit ? out.slice(0, limit) : out;
  }

  /** The whole trace, or undefined when unknown (or evicted). */
  get(traceId: string): TraceDetail | undefined {
    const t = this.traces.get(traceId.toLowerCase());
    if (t === undefined) return undefined;
    const summary = this.summarize(t);
    const startNs = BigInt(summary.startTimeUnixNano);
    const children = new Map<string, StoredSpan[]>();
    const tops: StoredSpan[] = [];
    for (const s of t.spans.values()) {
      const p = s.rec.parentSpanId;
      if (p === '' || !t.spans.has(p) || p === s.rec.spanId) tops.push(s);
      else {
        const list = children.get(p);
        if (list === undefined) children.set(p, [s]);
        else list.push(s);
      }
    }
    const byStart = (a: StoredSpan, b: StoredSpan) => a.startMs - b.startMs;
    tops.sort(byStart);
    const spans: TraceDetailSpan[] = [];
    const visited = new Set<string>();
    // Iterative depth-first walk: a hostile parent chain cannot overflow the stack, and a cycle
    // (a span listed as its own ancestor) is cut by `visited`.
    const stack: Array<{ s: StoredSpan; depth: number }> = [];
    const pushAll = (list: StoredSpan[], depth: number) => {
      for (let i = list.length - 1; i >= 0; i--) stack.push({ s: list[i]!, depth });
    };
    const walk = (roots: StoredSpan[]) => {
      pushAll(roots, 0);
      while (stack.length > 0) {
        const { s, depth } = stack.pop()!;
        if (visited.has(s.rec.spanId)) continue;
        visited.add(s.rec.spanId);
        const p = s.rec.parentSpanId;
        spans.push({
          ...s.rec,
          service: s.service,
          depth,
          orphan: p !== '' && !t.spans.has(p),
          startOffsetMs: Number(BigInt(s.rec.startTimeUnixNano) - startNs) / 1e6,
          durationMs: Math.max(0, s.endMs - s.startMs),
        });
        const kids = children.get(s.rec.spanId);
        if (kids !== undefined) pushAll(kids.sort(byStart), depth + 1);
      }
    };
    walk(tops);
    // Spans only reachable through a cycle have no top; show them rather than lose them.
    const rest = [...t.spans.values()].filter((s) => !visited.has(s.rec.spanId)).sort(byStart);
    if (rest.length > 0) walk(rest);
    return { ...summary, spans };
  }

  private summarize(t: TraceEntry): TraceSummary {
    if (t.summary !== undefined) return t.summary;
    let root: StoredSpan | undefined;
    let firstOrphan: StoredSpan | undefined;
    let start: StoredSpan | undefined;
    let endMs = Number.NEGATIVE_INFINITY;
    let errorCount = 0;
    const services: string[] = [];
    const routes = new Set<string>();
    const ordered = [...t.spans.values()].sort((a, b) => a.startMs - b.startMs);
    for (const s of ordered) {
      if (start === undefined) start = s;
      if (s.endMs > endMs) endMs = s.endMs;
      if (s.rec.status.code === 2) errorCount++;
      if (!services.includes(s.service)) services.push(s.service);
      const route = stringAttr(s.rec.attributes, 'http.route');
      if (route !== undefined) routes.add(route);
      const p = s.rec.parentSpanId;
      if (p === '') root ??= s;
      else if (!t.spans.has(p)) firstOrphan ??= s;
    }
    const head = root ?? firstOrphan ?? start!;
    const summary: TraceSummary = {
      traceId: t.traceId,
      rootName: head.rec.name,
      rootService: head.service,
      missingRoot: root === undefined,
      services,
      routes: [...routes],
      spanCount: t.spans.size,
      errorCount,
      startTimeMs: start!.startMs,
      startTimeUnixNano: start!.rec.startTimeUnixNano,
      durationMs: Math.max(0, endMs - start!.startMs),
    };
    t.summary = summary;
    return summary;
  }

  /**
   * Everything stored, oldest trace first, with resources and scopes listed once and referenced
   * by index (the persistence format; {@link load} reads it back).
   */
  snapshot(): PersistedStore {
    const resources: OtlpResource[] = [];
    const scopes: OtlpScope[] = [];
    const rIndex = new Map<OtlpResource, number>();
    const sIndex = new Map<OtlpScope, number>();
    const spans: PersistedSpan[] = [];
    for (const t of this.traces.values()) {
      for (const s of t.spans.values()) {
        let ri = rIndex.get(s.rec.resource);
        if (ri === undefined) rIndex.set(s.rec.resource, (ri = resources.push(s.rec.resource) - 1));
        let si = sIndex.get(s.rec.scope);
        if (si === undefined) sIndex.set(s.rec.scope, (si = scopes.push(s.rec.scope) - 1));
        spans.push({ ...s.rec, resource: ri, scope: si });
      }
    }
    return { format: PERSIST_FORMAT, savedAt: new Date().toISOString(), resources, scopes, spans };
  }

  /**
   * Adds the spans of a {@link snapshot} (limits apply). Throws a TypeError on a foreign format and
   * an OtlpDecodeError on a value of the wrong type.
   */
  load(data: unknown): number {
    const d = data as Partial<PersistedStore> | null;
    if (
      d === null ||
      typeof d !== 'object' ||
      d.format !== PERSIST_FORMAT ||
      !Array.isArray(d.resources) ||
      !Array.isArray(d.scopes) ||
      !Array.isArray(d.spans)
    ) {
      throw new TypeError(`not a ${PERSIST_FORMAT} file`);
    }
    const spans = decodePersistedSpans(d.resources, d.scopes, d.spans);
    const received = this.counters.spansReceived;
    this.add(spans);
    // Loaded spans were received by an earlier run; do not count them twice.
    this.counters.spansReceived = received;
    return spans.length;
  }
}

/** Name and version of the persistence file format. */
export const PERSIST_FORMAT = 'tracewire-viewer/1';

/** A span in the persistence file: resource and scope are indexes. */
export interface PersistedSpan extends Omit<SpanRecord, 'resource' | 'scope'> {
  resource: number;
  scope: number;
}

/** The persistence file. */
export interface PersistedStore {
  format: typeof PERSIST_FORMAT;
  savedAt: string;
  resources: OtlpResource[];
  scopes: OtlpScope[];
  spans: PersistedSpan[];
}
