/**
 * The provider's span processors behind one object. A processor that throws is reported through
 * `diag` (rate-limited) and never reaches the code that started or ended the span (DESIGN.md,
 * "Telemetry never breaks the application").
 */
import type { Context } from '@opentelemetry/api';
import { report } from './report.js';
import type { ReadableSpan, SpanProcessor } from './types.js';

type Processor = SpanProcessor & { onEnding?(span: unknown): void };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Calls every processor in order; forceFlush/shutdown wait for all and never reject. */
export class MultiSpanProcessor implements SpanProcessor {
  readonly #processors: readonly Processor[];
  /** Only defined when a processor has `onEnding` (SDK 2.x), so spans skip the call otherwise. */
  readonly onEnding?: (span: unknown) => void;

  constructor(processors: readonly SpanProcessor[]) {
    this.#processors = processors.slice() as Processor[];
    const withOnEnding = this.#processors.filter((p) => typeof p.onEnding === 'function');
    if (withOnEnding.length > 0) {
      this.onEnding = (span) => {
        for (const p of withOnEnding) {
          try {
            p.onEnding?.(span);
          } catch (err) {
            report(
              'processor:onEnding',
              `a span processor's onEnding threw and was ignored: ${message(err)}`,
            );
          }
        }
      };
    }
  }

  get processors(): readonly SpanProcessor[] {
    return this.#processors;
  }

  onStart(span: unknown, parentContext: Context): void {
    const ps = this.#processors;
    for (let i = 0; i < ps.length; i++) {
      try {
        (ps[i] as Processor).onStart(span, parentContext);
      } catch (err) {
        report('processor:onStart', `a span processor's onStart threw and was ignored: ${message(err)}`);
      }
    }
  }

  onEnd(span: ReadableSpan): void {
    const ps = this.#processors;
    for (let i = 0; i < ps.length; i++) {
      try {
        (ps[i] as Processor).onEnd(span);
      } catch (err) {
        report('processor:onEnd', `a span processor's onEnd threw and was ignored: ${message(err)}`);
      }
    }
  }

  forceFlush(): Promise<void> {
    return this.#all('forceFlush');
  }

  shutdown(): Promise<void> {
    return this.#all('shutdown');
  }

  async #all(method: 'forceFlush' | 'shutdown'): Promise<void> {
    await Promise.all(
      this.#processors.map(async (p) => {
        try {
          await p[method]();
        } catch (err) {
          report(`processor:${method}`, `a span processor's ${method}() failed: ${message(err)}`);
        }
      }),
    );
  }
}
