/**
 * Test support for the SDK suites (not exported from the package): a processor that keeps what it
 * sees, and a provider wired to it.
 */
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { resetReports } from './report.js';
import { TracewireTracerProvider, type TracewireTracerProviderOptions } from './tracer-provider.js';
import type { ReadableSpan, SpanProcessor } from './types.js';

export class RecordingProcessor implements SpanProcessor {
  readonly started: ReadableSpan[] = [];
  readonly ended: ReadableSpan[] = [];
  onStart(span: ReadableSpan): void {
    this.started.push(span);
  }
  onEnd(span: ReadableSpan): void {
    this.ended.push(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export function setup(options: TracewireTracerProviderOptions = {}) {
  const processor = new RecordingProcessor();
  const provider = new TracewireTracerProvider({ env: {}, spanProcessors: [processor], ...options });
  return { provider, processor, tracer: provider.getTracer('test', '1.0.0') };
}

/** Capture diag messages (and forget rate-limit history so each test sees its first report). */
export function captureDiag(level = DiagLogLevel.DEBUG) {
  resetReports();
  const messages: { level: string; message: string }[] = [];
  const push = (lvl: string) => (message: string) => messages.push({ level: lvl, message });
  diag.setLogger(
    {
      error: push('error'),
      warn: push('warn'),
      info: push('info'),
      debug: push('debug'),
      verbose: push('verbose'),
    },
    { logLevel: level, suppressOverrideMessage: true },
  );
  return { messages, text: () => messages.map((m) => m.message).join('\n') };
}
