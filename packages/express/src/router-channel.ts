import * as dc from 'node:diagnostics_channel';
import { errorMessage, report } from '@tracewire/core';
import { REQUEST_STATE, type RouterChannelMessage } from './request-state.js';

/**
 * Express 5's router (`router` >= 2.3) publishes every middleware, route handler and error handler
 * invocation on the `express.router.request` TracingChannel (Node `diagnostics_channel`), including
 * the error a handler throws, rejects with or passes to `next(err)`. That is how this adapter sees
 * errors an application's own error handler later turns into a response, and times middleware,
 * without patching Express. Express 4 publishes nothing; see `recordErrors()`.
 *
 * One subscription per process (a registered-symbol flag on `globalThis`: the CJS and ESM builds of
 * this package may both be loaded). Messages are routed to the request's own state object, found
 * on `req` under a registered symbol, so it does not matter which copy subscribed.
 */
const SUBSCRIBED = Symbol.for('tracewire.express.routerChannel');

interface Sink {
  routerStart(msg: RouterChannelMessage): void;
  routerEnd(msg: RouterChannelMessage): void;
  routerAsyncEnd(msg: RouterChannelMessage): void;
  routerError(msg: RouterChannelMessage): void;
}

function sinkOf(msg: unknown): Sink | undefined {
  const req = (msg as RouterChannelMessage | null)?.req;
  const state = req?.[REQUEST_STATE] as Partial<Sink> | undefined;
  return state !== undefined && typeof state.routerStart === 'function' ? (state as Sink) : undefined;
}

// A subscriber that throws would surface as an uncaught exception: every handler is fenced.
function onStart(msg: unknown): void {
  try {
    sinkOf(msg)?.routerStart(msg as RouterChannelMessage);
  } catch (err) {
    report(
      'express:channel:start',
      `@tracewire/express: express.router.request start handler failed: ${errorMessage(err)}`,
    );
  }
}
function onEnd(msg: unknown): void {
  try {
    sinkOf(msg)?.routerEnd(msg as RouterChannelMessage);
  } catch (err) {
    report(
      'express:channel:end',
      `@tracewire/express: express.router.request end handler failed: ${errorMessage(err)}`,
    );
  }
}
function onAsyncEnd(msg: unknown): void {
  try {
    sinkOf(msg)?.routerAsyncEnd(msg as RouterChannelMessage);
  } catch (err) {
    report(
      'express:channel:asyncEnd',
      `@tracewire/express: express.router.request asyncEnd handler failed: ${errorMessage(err)}`,
    );
  }
}
function onError(msg: unknown): void {
  try {
    sinkOf(msg)?.routerError(msg as RouterChannelMessage);
  } catch (err) {
    report(
      'express:channel:error',
      `@tracewire/express: express.router.request error handler failed: ${errorMessage(err)}`,
    );
  }
}
function noop(): void {}

/** Subscribe to Express 5's router events once per process. */
export function subscribeRouterChannel(): void {
  const g = globalThis as { [SUBSCRIBED]?: boolean };
  if (g[SUBSCRIBED] === true) return;
  g[SUBSCRIBED] = true;
  try {
    if (typeof dc.tracingChannel !== 'function') return;
    dc.tracingChannel('express.router.request').subscribe({
      start: onStart,
      end: onEnd,
      asyncStart: noop,
      asyncEnd: onAsyncEnd,
      error: onError,
    });
  } catch (err) {
    report(
      'express:channel:subscribe',
      `@tracewire/express: could not subscribe to express.router.request: ${errorMessage(err)}`,
    );
  }
}
