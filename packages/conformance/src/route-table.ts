/**
 * The framework-neutral route table every driver serves. Paths use `:param` segments, which every
 * supported router understands; framework-specific syntax (Express 5 `{/:opt}`, regex routes, ...)
 * is tested in each adapter's own suite.
 */
import { context, propagation } from '@opentelemetry/api';

/** What a handler does. Drivers implement each with `runBehavior` plus their framework's reply. */
export type Behavior =
  /** 200 `ok` */
  | 'ok'
  /** 200 JSON `{ traceparent, tracestate }`: what an outgoing call made by the handler would carry */
  | 'echo-context'
  /** throws ConformanceError synchronously (framework answers 500) */
  | 'throw'
  /** awaits, then throws ConformanceError (framework answers 500) */
  | 'throw-async'
  /** throws ConformanceError with status 422 (the app's error handling answers 422) */
  | 'throw-handled'
  /** answers 404 itself */
  | 'send-404'
  /** answers 500 itself */
  | 'send-500'
  /** sets response header `x-served-by: node-1` and answers 200 */
  | 'set-header';

export interface RouteDef {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Mount prefixes, outermost first: each is a nested router / plugin prefix / controller path. */
  readonly mounts: readonly string[];
  /** The leaf route path. */
  readonly path: string;
  readonly behavior: Behavior;
}

/** An application error; `status` asks the app's error handling to answer with that code. */
export class ConformanceError extends Error {
  override name = 'ConformanceError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The template a user expects in `http.route` for a route: mounts then path, no doubled slashes. */
export function templateOf(route: RouteDef): string {
  const joined = [...route.mounts, route.path].join('').replace(/\/{2,}/g, '/');
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

export const ROUTES: readonly RouteDef[] = [
  { method: 'GET', mounts: [], path: '/users/:id', behavior: 'echo-context' },
  { method: 'PUT', mounts: [], path: '/users/:id', behavior: 'ok' },
  { method: 'GET', mounts: ['/api'], path: '/items/:itemId', behavior: 'ok' },
  { method: 'GET', mounts: ['/api', '/v1'], path: '/orders/:orderId', behavior: 'ok' },
  { method: 'GET', mounts: ['/orgs/:org', '/repos/:repo'], path: '/issues/:n', behavior: 'ok' },
  { method: 'POST', mounts: ['/api'], path: '/carts', behavior: 'ok' },
  { method: 'GET', mounts: [], path: '/healthz', behavior: 'echo-context' },
  { method: 'GET', mounts: [], path: '/boom', behavior: 'throw' },
  { method: 'GET', mounts: [], path: '/boom-async', behavior: 'throw-async' },
  { method: 'GET', mounts: [], path: '/rejected', behavior: 'throw-handled' },
  { method: 'GET', mounts: [], path: '/missing', behavior: 'send-404' },
  { method: 'GET', mounts: [], path: '/broken', behavior: 'send-500' },
  { method: 'GET', mounts: [], path: '/headers', behavior: 'set-header' },
];

/** Routes grouped by their mount chain (drivers build one router/plugin per distinct chain). */
export function byMounts(routes: readonly RouteDef[]): Map<string, RouteDef[]> {
  const groups = new Map<string, RouteDef[]>();
  for (const r of routes) {
    const key = r.mounts.join('\u0000');
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = []));
    g.push(r);
  }
  return groups;
}

export interface BehaviorResult {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

/**
 * Run a behavior in the handler's context and say what to answer. Throws synchronously for
 * `throw` and `throw-handled` (the framework must see a throw from the handler itself) and returns
 * a promise for the asynchronous behaviors (`throw-async` rejects after an await).
 */
export function runBehavior(behavior: Behavior): BehaviorResult | Promise<BehaviorResult> {
  switch (behavior) {
    case 'ok':
      return { status: 200, body: 'ok', contentType: 'text/plain' };
    case 'echo-context': {
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      return {
        status: 200,
        body: JSON.stringify({
          traceparent: carrier.traceparent ?? null,
          tracestate: carrier.tracestate ?? null,
        }),
        contentType: 'application/json',
      };
    }
    case 'throw':
      throw new ConformanceError('conformance failure');
    case 'throw-async':
      return new Promise((_resolve, reject) =>
        setTimeout(() => reject(new ConformanceError('conformance async failure')), 5),
      );
    case 'throw-handled':
      throw new ConformanceError('conformance rejected input', 422);
    case 'send-404':
      return { status: 404, body: 'not here', contentType: 'text/plain' };
    case 'send-500':
      return { status: 500, body: 'broken', contentType: 'text/plain' };
    case 'set-header':
      return { status: 200, body: 'ok', contentType: 'text/plain', headers: { 'x-served-by': 'node-1' } };
  }
}
