/**
 * The SDK version reported as `telemetry.sdk.version`. The build (`tsup.config.ts`, `define`)
 * replaces `__TRACEWIRE_VERSION__` with the `version` of `packages/core/package.json` in both the
 * ESM and the CJS output; when running from source (tests) the fallback below is used, and a test
 * keeps it equal to package.json.
 */
declare const __TRACEWIRE_VERSION__: string | undefined;

const FALLBACK_VERSION = '0.1.0';

/**
 * This package's version (`telemetry.sdk.version` of the resource).
 *
 * @example
 * ```ts
 * import { SDK_VERSION } from '@tracewire/core';
 * console.log(`tracewire ${SDK_VERSION}`);
 * ```
 */
export const SDK_VERSION: string =
  typeof __TRACEWIRE_VERSION__ === 'string' ? __TRACEWIRE_VERSION__ : FALLBACK_VERSION;
