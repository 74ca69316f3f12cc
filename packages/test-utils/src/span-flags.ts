import { createRequire } from 'node:module';

/**
 * `Span.flags` (field 16) and `Span.Link.flags` (field 6) were added to trace.proto after the
 * generated decoder in `otlp-transformer-052` was built, so that decoder skips them. This walks
 * the wire format with protobufjs's own `Reader` (the same independent library, not tracewire's
 * code) to read just those fields, in the order the spans appear.
 */
const require = createRequire(import.meta.url);
const generated = require.resolve('otlp-transformer-052/build/src/generated/root.js');
// biome-ignore lint/suspicious/noExplicitAny: protobufjs minimal has no useful types here
const { Reader }: any = createRequire(generated)('protobufjs/minimal');

export interface DecodedSpanFlags {
  /** Span.flags (W3C trace flags in bits 0-7, bit 8 HAS_IS_REMOTE, bit 9 IS_REMOTE); undefined if absent. */
  flags: number | undefined;
  /** Span.Link.flags for each link, in order. */
  linkFlags: (number | undefined)[];
}

// biome-ignore lint/suspicious/noExplicitAny: protobufjs Reader
function fields(r: any, end: number, onField: (field: number, wire: number) => boolean): void {
  while (r.pos < end) {
    const t = r.uint32();
    if (!onField(t >>> 3, t & 7)) r.skipType(t & 7);
  }
}

/** Reads the flags of every span (and its links) in an `ExportTraceServiceRequest`, in order. */
export function decodeSpanFlags(body: Uint8Array): DecodedSpanFlags[] {
  const out: DecodedSpanFlags[] = [];
  const r = Reader.create(body);
  const sub = (fn: (end: number) => void) => {
    const len = r.uint32();
    fn(r.pos + len);
  };
  fields(r, body.length, (f, w) => {
    if (f !== 1 || w !== 2) return false; // resource_spans
    sub((rsEnd) =>
      fields(r, rsEnd, (f2, w2) => {
        if (f2 !== 2 || w2 !== 2) return false; // scope_spans
        sub((ssEnd) =>
          fields(r, ssEnd, (f3, w3) => {
            if (f3 !== 2 || w3 !== 2) return false; // spans
            const span: DecodedSpanFlags = { flags: undefined, linkFlags: [] };
            out.push(span);
            sub((spEnd) =>
              fields(r, spEnd, (f4, w4) => {
                if (f4 === 16 && w4 === 5) {
                  span.flags = r.fixed32();
                  return true;
                }
                if (f4 !== 13 || w4 !== 2) return false; // links
                let lf: number | undefined;
                sub((lEnd) =>
                  fields(r, lEnd, (f5, w5) => {
                    if (f5 !== 6 || w5 !== 5) return false;
                    lf = r.fixed32();
                    return true;
                  }),
                );
                span.linkFlags.push(lf);
                return true;
              }),
            );
            return true;
          }),
        );
        return true;
      }),
    );
    return true;
  });
  return out;
}
