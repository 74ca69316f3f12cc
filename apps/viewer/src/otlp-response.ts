/**
 * Response bodies of the OTLP/HTTP receiver (opentelemetry-proto `docs/specification.md`,
 * "OTLP/HTTP Response"): an `ExportTraceServiceResponse` on success (empty, or with
 * `partial_success`), a `google.rpc.Status` on failure, each in the encoding of the request.
 */

export type Encoding = 'protobuf' | 'json';

/** `google.rpc.Code` values used here. */
export const RPC_INVALID_ARGUMENT = 3;
export const RPC_RESOURCE_EXHAUSTED = 8;
export const RPC_UNIMPLEMENTED = 12;
export const RPC_PERMISSION_DENIED = 7;

function varint(out: number[], v: number): void {
  while (v > 0x7f) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function lenField(out: number[], tag: number, bytes: Uint8Array): void {
  out.push(tag);
  varint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/**
 * Encodes an `ExportTraceServiceResponse`. With no rejected spans it is the empty message (a
 * zero-length protobuf body, `{}` in JSON), as the specification asks for full success.
 */
export function encodeExportResponse(encoding: Encoding, rejected: number, errorMessage: string): Buffer {
  if (encoding === 'json') {
    if (rejected === 0 && errorMessage === '') return Buffer.from('{}');
    // int64 is a decimal string in OTLP/JSON.
    return Buffer.from(
      JSON.stringify({ partialSuccess: { rejectedSpans: String(rejected), errorMessage } }),
      'utf8',
    );
  }
  if (rejected === 0 && errorMessage === '') return Buffer.alloc(0);
  const inner: number[] = [];
  if (rejected > 0) {
    inner.push(0x08);
    varint(inner, rejected);
  }
  if (errorMessage !== '') lenField(inner, 0x12, Buffer.from(errorMessage, 'utf8'));
  const out: number[] = [];
  lenField(out, 0x0a, Uint8Array.from(inner));
  return Buffer.from(out);
}

/** Encodes a `google.rpc.Status { code, message }`. */
export function encodeStatus(encoding: Encoding, code: number, message: string): Buffer {
  if (encoding === 'json') return Buffer.from(JSON.stringify({ code, message }), 'utf8');
  const out: number[] = [0x08];
  varint(out, code);
  lenField(out, 0x12, Buffer.from(message, 'utf8'));
  return Buffer.from(out);
}
