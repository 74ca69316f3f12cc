/** Installs the Nest version matrix (nest10, nest11, nest12) once before the suites; skipped when present. */
// @ts-expect-error: a plain .mjs script without types
import { installMatrix } from './matrix/install.mjs';

export default function setup(): void {
  (installMatrix as () => void)();
}
