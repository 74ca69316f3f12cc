import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVICE_NAME, detectResource, TracewireResource } from './resource.js';
import { captureDiag, setup } from './test-support.js';
import { SDK_VERSION } from './version.js';

const pkgVersion = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

describe('resource', () => {
  it('always has service.name, telemetry.sdk.*, process and host attributes', () => {
    const r = detectResource({ env: {} });
    expect(r.attributes).toMatchObject({
      'service.name': DEFAULT_SERVICE_NAME,
      'telemetry.sdk.name': 'tracewire',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': pkgVersion,
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
      'process.runtime.description': 'Node.js',
      'host.name': hostname(),
    });
    expect(DEFAULT_SERVICE_NAME).toBe('unknown_service:node');
    expect(SDK_VERSION).toBe(pkgVersion);
  });

  it('OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES, code wins over both', () => {
    const env = {
      OTEL_RESOURCE_ATTRIBUTES:
        'service.name=from-attrs,service.version=1.2.3,deployment.environment.name=prod%20eu',
      OTEL_SERVICE_NAME: 'from-env',
    };
    expect(detectResource({ env }).attributes).toMatchObject({
      'service.name': 'from-env',
      'service.version': '1.2.3',
      'deployment.environment.name': 'prod eu',
    });
    expect(
      detectResource({ env: { OTEL_RESOURCE_ATTRIBUTES: env.OTEL_RESOURCE_ATTRIBUTES } }).attributes[
        'service.name'
      ],
    ).toBe('from-attrs');
    const code = detectResource({
      env,
      serviceName: 'from-code',
      serviceVersion: '9.9.9',
      attributes: { 'deployment.environment.name': 'staging', 'service.name': 'loses-to-serviceName' },
    });
    expect(code.attributes).toMatchObject({
      'service.name': 'from-code',
      'service.version': '9.9.9',
      'deployment.environment.name': 'staging',
    });
  });

  it('discards the whole OTEL_RESOURCE_ATTRIBUTES on a decoding error, with a warning', () => {
    const log = captureDiag();
    const r = detectResource({ env: { OTEL_RESOURCE_ATTRIBUTES: 'a=1,b=%E0%A4%A' } });
    expect(r.attributes.a).toBeUndefined();
    expect(r.attributes['service.name']).toBe(DEFAULT_SERVICE_NAME);
    expect(log.text()).toMatch(/OTEL_RESOURCE_ATTRIBUTES/);
  });

  it('merge: the other resource wins on conflicts; getRawAttributes lists entries', () => {
    const a = new TracewireResource({ x: 1, y: 'a' }, 'https://schema/1');
    const merged = a.merge(new TracewireResource({ y: 'b', z: true }));
    expect(merged.attributes).toEqual({ x: 1, y: 'b', z: true });
    expect(merged.schemaUrl).toBe('https://schema/1');
    expect(merged.getRawAttributes()).toEqual([
      ['x', 1],
      ['y', 'b'],
      ['z', true],
    ]);
    expect(a.merge(null)).toBe(a);
    expect(new TracewireResource({ bad: {} as never, ok: 1 }).attributes).toEqual({ ok: 1 });
  });

  it('the provider merges a given resource (object or plain attributes) over the detected one', () => {
    const { provider } = setup({
      env: { OTEL_SERVICE_NAME: 'env-name' },
      resource: { 'service.name': 'mine', 'k8s.pod.name': 'p-1' },
    });
    expect(provider.resource.attributes).toMatchObject({
      'service.name': 'mine',
      'k8s.pod.name': 'p-1',
      'telemetry.sdk.name': 'tracewire',
    });
    const { provider: p2 } = setup({ env: { OTEL_SERVICE_NAME: 'env-name' } });
    expect(p2.resource.attributes['service.name']).toBe('env-name');
  });
});
