// Counting spans in an OTLP/HTTP trace export without a full decoder: walk the protobuf wire format
// just far enough (ExportTraceServiceRequest.resource_spans = 1 > ResourceSpans.scope_spans = 2 >
// ScopeSpans.spans = 2), or JSON.parse for JSON bodies. Used by the benchmark sinks.
import { gunzipSync } from 'node:zlib';

function varint(buf, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos.i++];
    if (b === undefined) throw new Error('truncated varint');
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return result;
    shift += 7;
  }
}

/** Calls onField(fieldNumber, start, end) for every length-delimited field of the message in [start, end). */
function fields(buf, start, end, onField) {
  const pos = { i: start };
  while (pos.i < end) {
    const tag = varint(buf, pos);
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint(buf, pos);
      onField(tag >>> 3, pos.i, pos.i + len);
      pos.i += len;
    } else if (wire === 0) varint(buf, pos);
    else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

export function countProtobufSpans(buf) {
  let n = 0;
  fields(buf, 0, buf.length, (f, s, e) => {
    if (f !== 1) return;
    fields(buf, s, e, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(buf, s2, e2, (f3) => {
        if (f3 === 2) n++;
      });
    });
  });
  return n;
}

/** Spans in one export request body, given its headers. Throws on a malformed body. */
export function countSpans(body, headers) {
  const raw = headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
  if (String(headers['content-type']).includes('json')) {
    let n = 0;
    const j = JSON.parse(raw.toString('utf8'));
    for (const rs of j.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
    return n;
  }
  return countProtobufSpans(raw);
}
