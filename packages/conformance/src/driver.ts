/**
 * The one interface every adapter implements to join the conformance suite. A driver turns the
 * framework-neutral route table (route-table.ts) into a real app of its framework, with the
 * tracewire adapter registered the way its README tells users to, and serves it on 127.0.0.1.
 *
 * Adding an adapter = one file in `src/drivers/` exporting drivers, plus one line in
 * `src/drivers/index.ts`.
 */
import type { HttpServerTracingOptions } from '@tracewire/core';
import type { RouteDef } from './route-table.js';

export interface AppSpec {
  /** The routes to serve (see ROUTES). */
  readonly routes: readonly RouteDef[];
  /** Passed to the adapter as its options (the lifecycle options every adapter exposes). */
  readonly options?: HttpServerTracingOptions;
}

export interface RunningApp {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

export interface AdapterDriver {
  /** Unique label in test names, e.g. `express5`, `koa3`, `fastify5`. */
  readonly name: string;
  /** The instrumentation scope the adapter's spans carry, e.g. `@tracewire/express`. */
  readonly scope: string;
  /**
   * Build the app for `spec` and listen on 127.0.0.1 port 0. Unknown routes must answer 404 the
   * framework's default way; errors with a numeric `status` (see ConformanceError) must be answered
   * with that status by the app's own error handling, the way users of the framework do it.
   */
  start(spec: AppSpec): Promise<RunningApp>;
}
