/**
 * The resource: who produces the telemetry (OpenTelemetry specification `resource/sdk.md` and
 * `configuration/sdk-environment-variables.md`, "General SDK Configuration"; semantic conventions
 * `service`, `telemetry`, `process`, `host`).
 *
 * Precedence, lowest first: detected attributes (process, host, telemetry.sdk.*), then
 * `OTEL_RESOURCE_ATTRIBUTES`, then `OTEL_SERVICE_NAME` (which wins over a `service.name` in
 * `OTEL_RESOURCE_ATTRIBUTES`), then what the code passes.
 */
import { hostname } from 'node:os';
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { isAttributeValue } from './attributes.js';
import { envKeyValueList, envString } from './env.js';
import type { Resource } from './types.js';
import { SDK_VERSION } from './version.js';

type Env = Record<string, string | undefined>;

/**
 * `service.name` when none is configured (spec: `unknown_service:` + the process executable name).
 *
 * @example
 * ```ts
 * if (resource.attributes['service.name'] === DEFAULT_SERVICE_NAME) console.warn('set OTEL_SERVICE_NAME');
 * ```
 */
export const DEFAULT_SERVICE_NAME = 'unknown_service:node';

/**
 * An immutable resource implementing the official SDK 2.x `Resource` read interface.
 *
 * @example
 * ```ts
 * const r = new TracewireResource({ 'service.name': 'checkout' });
 * r.merge(new TracewireResource({ 'deployment.environment.name': 'prod' })).attributes;
 * ```
 */
export class TracewireResource implements Resource {
  readonly attributes: Attributes;
  readonly schemaUrl?: string;
  readonly asyncAttributesPending = false;

  constructor(attributes: Attributes, schemaUrl?: string) {
    const attrs: Attributes = {};
    for (const [k, v] of Object.entries(attributes)) {
      if (k !== '' && v !== undefined && v !== null && isAttributeValue(v)) attrs[k] = v;
    }
    this.attributes = Object.freeze(attrs);
    if (schemaUrl !== undefined) this.schemaUrl = schemaUrl;
  }

  /** Nothing is asynchronous in tracewire's resources. */
  waitForAsyncAttributes(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * A new resource with the attributes of both; on conflict `other` wins (spec, "Merge"). The
   * schema URL is kept when only one side has one or both agree; on a conflict `other`'s is used.
   */
  merge(other: Resource | null): Resource {
    if (!other) return this;
    const attributes = { ...this.attributes, ...other.attributes };
    const schemaUrl = other.schemaUrl || this.schemaUrl;
    return new TracewireResource(attributes, schemaUrl || undefined);
  }

  getRawAttributes(): [string, AttributeValue | undefined][] {
    return Object.entries(this.attributes);
  }
}

/** Options of {@link detectResource}. */
export interface DetectResourceOptions {
  /** `service.name`; wins over `OTEL_SERVICE_NAME`. */
  serviceName?: string;
  /** `service.version`; wins over `service.version` in `OTEL_RESOURCE_ATTRIBUTES`. */
  serviceVersion?: string;
  /** More attributes; win over the environment, lose to `serviceName`/`serviceVersion`. */
  attributes?: Attributes;
  /** Environment to read; defaults to `process.env`. */
  env?: Env;
}

function processAttributes(): Attributes {
  const attrs: Attributes = {
    'telemetry.sdk.name': 'tracewire',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.version': SDK_VERSION,
  };
  const proc = globalThis.process;
  if (proc) {
    attrs['process.pid'] = proc.pid;
    attrs['process.runtime.name'] = 'nodejs';
    attrs['process.runtime.version'] = proc.versions.node;
    attrs['process.runtime.description'] = 'Node.js';
  }
  try {
    attrs['host.name'] = hostname();
  } catch {
    // hostname() can fail in locked-down sandboxes; host.name is only recommended.
  }
  return attrs;
}

/**
 * The resource of this process: detected attributes, the environment, and code, in that order of
 * precedence (each wins over the previous).
 *
 * @example
 * ```ts
 * detectResource({ serviceName: 'checkout' }).attributes['service.name']; // 'checkout'
 * ```
 */
export function detectResource(options: DetectResourceOptions = {}): TracewireResource {
  const env = options.env ?? process.env;
  const attrs: Attributes = { 'service.name': DEFAULT_SERVICE_NAME, ...processAttributes() };
  const fromEnv = envKeyValueList('OTEL_RESOURCE_ATTRIBUTES', env);
  if (fromEnv) Object.assign(attrs, fromEnv);
  const envService = envString('OTEL_SERVICE_NAME', env);
  if (envService !== undefined) attrs['service.name'] = envService;
  if (options.attributes) Object.assign(attrs, options.attributes);
  if (options.serviceName !== undefined) attrs['service.name'] = options.serviceName;
  if (options.serviceVersion !== undefined) attrs['service.version'] = options.serviceVersion;
  return new TracewireResource(attrs);
}
