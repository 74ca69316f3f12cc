/**
 * The OTLP exporter's HTTP/1.1 client: one POST at a time per kept-alive socket, written with two
 * socket writes (head and body) and answered by a small response parser.
 *
 * Why not `node:http`: the exporter sends one request per 512 spans, so Node's HTTP client code
 * (ClientRequest, agent, IncomingMessage, the stream machinery around them) runs a few dozen times
 * a second and never gets optimised, and it shares the Readable/Writable/OutgoingMessage code with
 * the application's own server, whose inline caches it makes polymorphic. Measured with callgrind
 * on Node 24 (apps/bench `instructions.mjs`, a bare Fastify server that also POSTs 200 KB every 512
 * requests): with `node:http` the server's requests cost 3.3k instructions more each (54.7k →
 * 58.0k, +6%); with this client's way of writing (a kept socket, head and body corked) 0.1k.
 *
 * What it does: `http:` and `https:` (with the exporter's CA and client certificate), keep-alive
 * with at most `maxSockets` sockets (idle ones are unreferenced and closed after `idleMillis`),
 * `content-length`, chunked and read-until-close response bodies, 1xx responses skipped, a cap on
 * the response body (the rest is not read: the socket is closed), `connection: close` honoured.
 * What it does not: proxies, HTTP/2, redirects (the exporter never followed them either).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureContextOptions } from 'node:tls';

/** The response to one request. Header names are lowercase; repeated headers are joined with `, `. */
export interface Http1Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The body was longer than the cap: `body` is empty and the rest was not read. */
  truncated: boolean;
}

/** What a request reports, exactly one of `response`/`error`; `flushed` when the body left for the OS. */
export interface Http1Callbacks {
  response(r: Http1Response): void;
  error(err: Error): void;
  flushed(): void;
}

/** A request in flight; `destroy()` abandons it and closes its socket (no callback follows). */
export interface Http1Request {
  destroy(): void;
}

export interface Http1ClientOptions {
  /** CA, client certificate and key for `https:`. */
  tls?: Pick<SecureContextOptions, 'ca' | 'cert' | 'key'>;
  maxSockets?: number;
  idleMillis?: number;
  maxResponseBytes?: number;
  /** Runs around `connect()`, e.g. to connect with tracing suppressed. */
  around?: <T>(fn: () => T) => T;
}

const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');
/** A response head larger than this is not HTTP we want to parse. */
const MAX_HEAD_BYTES = 64 * 1024;
const NOT_HTTP = 'the collector did not answer with HTTP/1.x';

/** One exchange on a socket: the parser's state for the response. */
class Exchange {
  head: Buffer[] = [];
  headBytes = 0;
  status = 0;
  headers: Record<string, string> = {};
  /** -1: read until close; -2: chunked; otherwise bytes of body left. */
  left = 0;
  chunks: Buffer[] = [];
  size = 0;
  /** Chunked decoding: the size line being read, and the chunk data still to come. */
  chunkLine = '';
  chunkLeft = 0;
  chunkState: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  inBody = false;
  done = false;
  keepAlive = true;

  constructor(
    readonly cb: Http1Callbacks,
    readonly maxBody: number,
  ) {}
}

interface Conn {
  socket: Socket;
  exchange: Exchange | undefined;
}

export class Http1Client {
  readonly #host: string;
  readonly #port: number;
  readonly #https: boolean;
  readonly #tls: Http1ClientOptions['tls'];
  readonly #servername: string | undefined;
  readonly #idle: Conn[] = [];
  readonly #open = new Set<Conn>();
  readonly #maxSockets: number;
  readonly #idleMillis: number;
  readonly #maxBody: number;
  readonly #around: <T>(fn: () => T) => T;
  #destroyed = false;

  constructor(url: URL, options: Http1ClientOptions = {}) {
    this.#https = url.protocol === 'https:';
    // `[::1]` in a URL is `::1` to connect().
    this.#host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.#port = url.port === '' ? (this.#https ? 443 : 80) : Number(url.port);
    this.#tls = options.tls;
    // SNI carries host names only (RFC 6066 §3).
    this.#servername = isIP(this.#host) === 0 ? this.#host : undefined;
    this.#maxSockets = options.maxSockets ?? 8;
    this.#idleMillis = options.idleMillis ?? 4000;
    this.#maxBody = options.maxResponseBytes ?? 4 * 1024 * 1024;
    this.#around = options.around ?? ((fn) => fn());
  }

  /**
   * Send `head` (request line and headers, ending with an empty line) and `body` on a kept socket
   * or a new one. Callbacks run asynchronously.
   */
  request(head: Buffer, body: Buffer, cb: Http1Callbacks): Http1Request {
    if (this.#destroyed) {
      const req = { destroy() {} };
      process.nextTick(() => cb.error(new Error('the HTTP client was closed')));
      return req;
    }
    let conn = this.#idle.pop();
    while (conn?.socket.destroyed) conn = this.#idle.pop();
    if (conn === undefined) conn = this.#connect();
    const socket = conn.socket;
    socket.ref();
    socket.setTimeout(0);
    const ex = new Exchange(cb, this.#maxBody);
    conn.exchange = ex;
    socket.cork();
    socket.write(head);
    socket.write(body, (err) => {
      if (!err && !ex.done) cb.flushed();
    });
    socket.uncork();
    const c = conn;
    return {
      destroy: () => {
        if (ex.done) return;
        ex.done = true;
        c.exchange = undefined;
        socket.destroy();
      },
    };
  }

  /** Close every socket; requests in flight get an error. */
  destroy(): void {
    this.#destroyed = true;
    for (const conn of this.#open) conn.socket.destroy();
    this.#idle.length = 0;
  }

  #connect(): Conn {
    const socket = this.#around(() =>
      this.#https
        ? tlsConnect({
            host: this.#host,
            port: this.#port,
            ...(this.#servername !== undefined ? { servername: this.#servername } : {}),
            ALPNProtocols: ['http/1.1'],
            ...this.#tls,
          })
        : netConnect({ host: this.#host, port: this.#port }),
    );
    socket.setNoDelay(true);
    const conn: Conn = { socket, exchange: undefined };
    this.#open.add(conn);
    socket.on('data', (data: Buffer) => {
      const ex = conn.exchange;
      if (ex === undefined) {
        // Bytes nobody asked for on an idle socket: it cannot be reused.
        socket.destroy();
        return;
      }
      try {
        this.#parse(conn, ex, data);
      } catch (err) {
        this.#fail(conn, ex, err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('end', () => {
      const ex = conn.exchange;
      if (ex?.inBody && ex.left === -1) {
        this.#finish(conn, ex);
        return;
      }
      if (ex !== undefined) this.#fail(conn, ex, endedEarly(ex));
      socket.destroy();
    });
    socket.on('error', (err: Error) => {
      const ex = conn.exchange;
      if (ex !== undefined) this.#fail(conn, ex, err);
    });
    socket.on('close', () => {
      this.#open.delete(conn);
      const i = this.#idle.indexOf(conn);
      if (i !== -1) this.#idle.splice(i, 1);
      const ex = conn.exchange;
      if (ex !== undefined) this.#fail(conn, ex, endedEarly(ex));
    });
    socket.on('timeout', () => socket.destroy());
    return conn;
  }

  #fail(conn: Conn, ex: Exchange, err: Error): void {
    if (ex.done) return;
    ex.done = true;
    conn.exchange = undefined;
    conn.socket.destroy();
    ex.cb.error(err);
  }

  #finish(conn: Conn, ex: Exchange): void {
    if (ex.done) return;
    ex.done = true;
    conn.exchange = undefined;
    const truncated = ex.size > ex.maxBody;
    const body = truncated
      ? Buffer.alloc(0)
      : ex.chunks.length === 1
        ? ex.chunks[0]!
        : Buffer.concat(ex.chunks);
    const socket = conn.socket;
    if (
      !truncated &&
      ex.keepAlive &&
      ex.left !== -1 &&
      !socket.destroyed &&
      !this.#destroyed &&
      this.#idle.length < this.#maxSockets
    ) {
      socket.unref();
      socket.setTimeout(this.#idleMillis);
      this.#idle.push(conn);
    } else {
      socket.destroy();
    }
    ex.cb.response({ status: ex.status, headers: ex.headers, body, truncated });
  }

  #parse(conn: Conn, ex: Exchange, data: Buffer): void {
    let rest: Buffer | undefined = data;
    while (rest !== undefined && rest.length > 0 && !ex.done) {
      if (!ex.inBody) {
        rest = this.#parseHead(ex, rest);
        if (rest === undefined) return; // head not complete yet
        // 1xx interim response (100 Continue, 103 Early Hints): the real one follows, and its head
        // replaces this one's status, headers and framing.
        if (ex.status < 200) continue;
        ex.inBody = true;
        if (ex.left === 0) {
          this.#finish(conn, ex);
          return;
        }
        continue;
      }
      rest = ex.left === -2 ? this.#chunked(conn, ex, rest) : this.#plain(conn, ex, rest);
    }
  }

  /** Appends to the head; once `\r\n\r\n` arrived, parses it and returns the bytes after it. */
  #parseHead(ex: Exchange, data: Buffer): Buffer | undefined {
    ex.head.push(data);
    ex.headBytes += data.length;
    const all = ex.head.length === 1 ? data : Buffer.concat(ex.head);
    const end = all.indexOf(CRLF_CRLF);
    if (end === -1) {
      if (ex.headBytes > MAX_HEAD_BYTES) throw new Error(`${NOT_HTTP} (head over ${MAX_HEAD_BYTES} bytes)`);
      if (ex.head.length > 1) ex.head = [all];
      return undefined;
    }
    const lines = all.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
    if (m === null) throw new Error(`${NOT_HTTP}: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    ex.status = Number(m[2]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    ex.headers = headers;
    const connection = (headers.connection ?? '').toLowerCase();
    ex.keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    const te = headers['transfer-encoding'];
    if (ex.status === 204 || ex.status === 304 || ex.status < 200) ex.left = 0;
    else if (te?.toLowerCase().includes('chunked')) ex.left = -2;
    else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${NOT_HTTP} (bad content-length)`);
      ex.left = n;
    } else ex.left = -1;
    ex.head = [];
    return all.subarray(end + 4);
  }

  /** Body bytes with a content-length, or until the socket closes. */
  #plain(conn: Conn, ex: Exchange, data: Buffer): Buffer | undefined {
    const take = ex.left === -1 ? data.length : Math.min(ex.left, data.length);
    this.#keep(conn, ex, data.subarray(0, take));
    if (ex.done) return undefined;
    if (ex.left !== -1) {
      ex.left -= take;
      if (ex.left === 0) {
        this.#finish(conn, ex);
        return undefined;
      }
    }
    return data.subarray(take);
  }

  /** Chunked transfer coding (RFC 9112 §7.1): size line, data, CRLF; a 0 size ends it (trailers skipped). */
  #chunked(conn: Conn, ex: Exchange, data: Buffer): Buffer | undefined {
    let i = 0;
    while (i < data.length && !ex.done) {
      if (ex.chunkState === 'data') {
        const take = Math.min(ex.chunkLeft, data.length - i);
        this.#keep(conn, ex, data.subarray(i, i + take));
        i += take;
        ex.chunkLeft -= take;
        if (ex.chunkLeft === 0) {
          ex.chunkState = 'data-crlf';
          ex.chunkLine = '';
        }
        continue;
      }
      // A line: the size line, the CRLF after data, or a trailer line.
      const nl = data.indexOf(10, i);
      const upTo = nl === -1 ? data.length : nl;
      ex.chunkLine += data.toString('latin1', i, upTo);
      if (ex.chunkLine.length > 4096) throw new Error(`${NOT_HTTP} (bad chunked body)`);
      i = upTo;
      if (nl === -1) break;
      i++; // the LF
      const line = ex.chunkLine.replace(/\r$/, '');
      ex.chunkLine = '';
      if (ex.chunkState === 'data-crlf') {
        if (line !== '') throw new Error(`${NOT_HTTP} (bad chunked body)`);
        ex.chunkState = 'size';
      } else if (ex.chunkState === 'size') {
        const size = Number.parseInt(line.split(';')[0]!.trim(), 16);
        if (!Number.isSafeInteger(size) || size < 0 || !/^[0-9a-fA-F]+/.test(line.trim()))
          throw new Error(`${NOT_HTTP} (bad chunk size)`);
        if (size === 0) ex.chunkState = 'trailer';
        else {
          ex.chunkLeft = size;
          ex.chunkState = 'data';
        }
      } else if (line === '') {
        this.#finish(conn, ex); // the empty line after the trailers
        return undefined;
      }
    }
    return undefined;
  }

  /** Keeps body bytes up to the cap; over it, the response is finished as truncated. */
  #keep(conn: Conn, ex: Exchange, bytes: Buffer): void {
    if (bytes.length === 0) return;
    ex.size += bytes.length;
    if (ex.size > ex.maxBody) {
      ex.keepAlive = false;
      this.#finish(conn, ex);
      return;
    }
    // A socket hands each read to 'data' in a buffer of its own: kept without a copy.
    ex.chunks.push(bytes);
  }
}

/** The error for a connection that ended before its response did (retryable, as Node's client says). */
function endedEarly(ex: Exchange): Error {
  return ex.inBody
    ? new Error('response aborted')
    : Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}
