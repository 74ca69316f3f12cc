/**
 * Turning outgoing-request tracing on and off. One subscription per process, whatever the number of
 * copies of @tracewire/core: the state lives on `globalThis[Symbol.for('tracewire.outgoing')]`, so
 * the CommonJS and ESM builds loaded side by side (dual package hazard) share it.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRuntime, newTargetCache, type Runtime } from './lifecycle.js';
import {
  onHttpRequestCreated,
  onHttpRequestError,
  onHttpRequestStart,
  onHttpResponseFinish,
} from './node-http.js';
import { normaliseOutgoingOptions, type OutgoingTracingOptions } from './options.js';
import {
  onUndiciCreate,
  onUndiciError,
  onUndiciHeaders,
  onUndiciSendHeaders,
  onUndiciTrailers,
} from './undici.js';

const STATE = Symbol.for('tracewire.outgoing');

interface OutgoingGlobal {
  runtime: Runtime;
  /** Identifies the latest `enableOutgoingTracing` call; an older call's disable is a no-op. */
  token: object;
  unsubscribeAll: () => void;
}

type Handler = (rt: Runtime, message: unknown) => void;

/** Channel name → handler. Names: undici `docs/docs/api/DiagnosticsChannel.md`; Node `diagnostics_channel` "Built-in channels". */
const CHANNELS: ReadonlyArray<readonly [string, Handler]> = [
  ['undici:request:create', onUndiciCreate],
  ['undici:client:sendHeaders', onUndiciSendHeaders],
  ['undici:request:headers', onUndiciHeaders],
  ['undici:request:trailers', onUndiciTrailers],
  ['undici:request:error', onUndiciError],
  ['http.client.request.created', onHttpRequestCreated],
  ['http.client.request.start', onHttpRequestStart],
  ['http.client.response.finish', onHttpResponseFinish],
  ['http.client.request.error', onHttpRequestError],
];

function getGlobal(): OutgoingGlobal | undefined {
  return (globalThis as { [STATE]?: OutgoingGlobal })[STATE];
}

/**
 * Trace outgoing HTTP requests made with global `fetch`, the `undici` package and `node:http`/
 * `node:https` (and so axios, got, ...): a CLIENT span per request, child of the active span, and
 * the W3C `traceparent`/`tracestate`/`baggage` headers (whatever the global propagator injects)
 * added to requests whose destination `propagateTo` allows. Works through `diagnostics_channel`:
 * nothing is patched. `start()` calls it for you (option `outgoing`, `false` to turn it off).
 *
 * Idempotent: one subscription per process; calling it again replaces the options. Returns a
 * function that turns tracing off (a no-op once a later call replaced this one).
 * Throws `TypeError` for invalid options.
 *
 * @example
 * ```ts
 * import { enableOutgoingTracing } from '@tracewire/core';
 *
 * const disable = enableOutgoingTracing({ propagateTo: ['<internal>', '*.acme.com'] });
 * await fetch('http://users:3000/users/1'); // CLIENT span "GET", traceparent sent
 * disable();
 * ```
 */
export function enableOutgoingTracing(options?: OutgoingTracingOptions): () => void {
  const cfg = normaliseOutgoingOptions(options);
  const g = globalThis as { [STATE]?: OutgoingGlobal };
  const token = {};
  const existing = g[STATE];
  if (existing !== undefined) {
    existing.runtime.cfg = cfg;
    existing.runtime.targets = newTargetCache();
    existing.token = token;
  } else {
    const runtime = createRuntime(cfg);
    const subscribed: Array<readonly [string, (message: unknown, name: string | symbol) => void]> = [];
    for (const [name, handler] of CHANNELS) {
      const fn = (message: unknown) => handler(runtime, message);
      subscribe(name, fn);
      subscribed.push([name, fn]);
    }
    g[STATE] = {
      runtime,
      token,
      unsubscribeAll() {
        for (const [name, fn] of subscribed) unsubscribe(name, fn);
      },
    };
  }
  return function disableOutgoingTracing() {
    const current = getGlobal();
    if (current === undefined || current.token !== token) return;
    current.unsubscribeAll();
    delete g[STATE];
  };
}

/** Whether outgoing tracing is on in this process (any copy of @tracewire/core). For tests and diagnostics. */
export function isOutgoingTracingEnabled(): boolean {
  return getGlobal() !== undefined;
}
