import * as api from '@opentelemetry/api';
import * as dc from 'node:diagnostics_channel';
import { errorMessage, report } from '@tracewire/core';
import { type RequestStateLike, type RouterChannelMessage, requestStateOf } from './request-state.js';

// Read once (see middleware.ts).
const { context } = api;

/**
 * Express 5's router (`router` >= 2.3) publishes every middleware, route handler and error handler
 * invocation on the `express.router.request` TracingChannel (Node `diagnostics_channel`), including
 * the error a handler throws, rejects with or passes to `next(err)`. That is how this adapter sees
 * errors an application's own error handler later turns into a response, and times middleware,
 * without patching Express. Express 4 publishes nothing; see `recordErrors()`.
 *
 * One subscription per process (a registered-symbol flag on `globalThis`: the CJS and ESM builds of
 * this package may both be loaded). Messages are routed to the request's own state object, found
 * in the active context under a registered symbol, so it does not matter which copy subscribed.
 */
const SUBSCRIBED = Symbol.for('tracewire.express.routerChannel');

/**
 * The state of the message's request. The router publishes from inside the request (a handler's
 * call, its `next(err)`, its promise settling), so the active context is that request's.
 */
function sinkOf(msg: unknown): RequestStateLike | undefined {
  return requestStateOf(context.active(), (msg as RouterChannelMessage | null)?.req);
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

/**
 * Subscribe to Express 5's router events once per process: `error` always (exceptions, and the
 * sub-app an error was raised in), `start`/`end`/`asyncEnd` only once some `tracewire()` asked for
 * middleware spans. Every subscribed event is one more call per middleware layer of every request,
 * each reading `req` (a prototype-swapped object under Express, so on Node 20 each read misses its
 * inline cache): without middleware spans they are not worth it.
 */
export function subscribeRouterChannel(timing: boolean): void {
  const g = globalThis as { [SUBSCRIBED]?: { errors: boolean; timing: boolean } | boolean };
  let state = g[SUBSCRIBED];
  if (state === true) return; // everything subscribed (by an earlier copy of this package)
  if (state === undefined || state === false) {
    state = { errors: false, timing: false };
    g[SUBSCRIBED] = state;
  }
  if (state.errors && (state.timing || !timing)) return;
  try {
    if (typeof dc.tracingChannel !== 'function') return;
    const channel = dc.tracingChannel('express.router.request');
    if (!state.errors) {
      state.errors = true;
      channel.error.subscribe(onError);
    }
    if (timing && !state.timing) {
      state.timing = true;
      channel.start.subscribe(onStart);
      channel.end.subscribe(onEnd);
      channel.asyncEnd.subscribe(onAsyncEnd);
    }
  } catch (err) {
    report(
      'express:channel:subscribe',
      `@tracewire/express: could not subscribe to express.router.request: ${errorMessage(err)}`,
    );
  }
}
