/** The cross-adapter conformance suite's building blocks (private package; used by its own tests). */
export type { AdapterDriver, AppSpec, RunningApp } from './driver.js';
export { drivers } from './drivers/index.js';
export { type Harness, send, startHarness } from './harness.js';
export {
  type Behavior,
  ConformanceError,
  ROUTES,
  type RouteDef,
  runBehavior,
  templateOf,
} from './route-table.js';
