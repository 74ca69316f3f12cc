import type { DecodedSpan } from '@tracewire/test-utils';
import type { ErrorRequestHandler, Express, NextFunction, Request, Response } from 'express';
import express4 from 'express4';
import express5 from 'express5';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordErrors, tracewire } from '../src/index.js';
import {
  durationMs,
  officialSdk,
  type Served,
  send,
  serve,
  sleep,
  spanFor,
  type Tracing,
} from './helpers.js';

type ExpressFactory = typeof express5;

class PaymentError extends Error {
  override name = 'PaymentError';
}
class NotFoundError extends Error {
  override name = 'NotFoundError';
  status = 404;
}

const UNSET = 0;
const ERROR = 2;

/** The exception event the server span carries (OTel exception semconv: type, message, stacktrace). */
function exceptionOf(span: DecodedSpan) {
  const events = span.events.filter((e) => e.name === 'exception');
  return events.map((e) => ({
    type: e.attributes['exception.type'],
    message: e.attributes['exception.message'],
    stack: e.attributes['exception.stacktrace'],
  }));
}

function buildApp(express: ExpressFactory, major: 4 | 5, withRecorder: boolean): Express {
  const app = express();
  app.use(tracewire());
  app.get('/sync-throw', () => {
    throw new PaymentError('card declined');
  });
  app.get('/next-err', (_req: Request, _res: Response, next: NextFunction) => {
    setTimeout(() => next(new PaymentError('gateway timeout')), 5);
  });
  app.get('/handled-4xx', (_req: Request, _res: Response, next: NextFunction) =>
    next(new NotFoundError('no such order')),
  );
  app.get('/handled-503', () => {
    throw new PaymentError('upstream down');
  });
  if (major === 5) {
    app.get('/async-reject', async () => {
      await sleep(5);
      throw new PaymentError('async failure');
    });
  }
  app.get('/stream', (_req: Request, res: Response) => {
    let n = 0;
    const body = new Readable({
      read() {
        n++;
        if (n > 4) this.push(null);
        else setTimeout(() => this.push(`chunk ${n}\n`), 80);
      },
    });
    res.type('text/plain');
    body.pipe(res);
  });
  app.get('/slow', (_req: Request, res: Response) => {
    setTimeout(() => {
      if (!res.destroyed) res.send('late');
    }, 2000);
  });
  app.get('/sent-500', (_req: Request, res: Response) => {
    res.status(500).send('oops');
  });
  if (withRecorder) app.use(recordErrors());
  const handler: ErrorRequestHandler = (err, req, res, next) => {
    if (err instanceof NotFoundError) return res.status(404).send('not found');
    if (req.path === '/handled-503') return res.status(503).send('try later');
    next(err); // the rest go to Express's final handler (500)
  };
  app.use(handler);
  return app;
}

/** Open a connection, send a request, and close the socket before the response arrives. */
function abortedRequest(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    socket.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
    socket.on('error', reject);
  });
}

const matrix = [
  // Express 4 offers no way to see handler errors without patching: recordErrors() is the explicit hook.
  ['Express 4 + recordErrors()', express4 as unknown as ExpressFactory, 4 as const, true],
  // Express 5 (router >= 2.3) reports them on diagnostics_channel: nothing to add.
  ['Express 5', express5, 5 as const, false],
] as const;

describe.each(matrix)('%s: errors and status', (_label, express, major, withRecorder) => {
  let tracing: Tracing;
  let server: Served;
  const spans = (): DecodedSpan[] => tracing.serverSpans();

  beforeAll(async () => {
    tracing = await officialSdk();
    server = await serve(buildApp(express, major, withRecorder));
  });
  afterAll(async () => {
    await server?.close();
    await tracing?.shutdown();
  });

  it('a synchronous throw: 500, ERROR, error.type is the exception type, exception event with stack', async () => {
    expect((await send(`${server.url}/sync-throw`)).status).toBe(500);
    await tracing.waitForServerSpans(1);
    const span = spanFor(spans(), '/sync-throw');
    expect(span.attributes['http.response.status_code']).toBe(500);
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('PaymentError');
    const [ex] = exceptionOf(span);
    expect(ex?.type).toBe('PaymentError');
    expect(ex?.message).toBe('card declined');
    expect(String(ex?.stack)).toContain('errors.test.ts');
    expect(span.name).toBe('GET /sync-throw');
  });

  it('next(err) from a callback: 500 with the exception recorded', async () => {
    expect((await send(`${server.url}/next-err`)).status).toBe(500);
    await tracing.receiver.waitFor((s) => s.some((x) => x.attributes['url.path'] === '/next-err'));
    const span = spanFor(spans(), '/next-err');
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('PaymentError');
    expect(exceptionOf(span).map((e) => e.message)).toEqual(['gateway timeout']);
  });

  it('an error an error handler answers with 404: exception kept, status unset, no error.type', async () => {
    expect((await send(`${server.url}/handled-4xx`)).status).toBe(404);
    await tracing.receiver.waitFor((s) => s.some((x) => x.attributes['url.path'] === '/handled-4xx'));
    const span = spanFor(spans(), '/handled-4xx');
    expect(span.attributes['http.response.status_code']).toBe(404);
    expect(span.status.code).toBe(UNSET);
    expect(span.attributes['error.type']).toBeUndefined();
    expect(exceptionOf(span).map((e) => e.type)).toEqual(['NotFoundError']);
  });

  it('an error an error handler answers with 503: the status the user sent, ERROR, exception type', async () => {
    expect((await send(`${server.url}/handled-503`)).status).toBe(503);
    await tracing.receiver.waitFor((s) => s.some((x) => x.attributes['url.path'] === '/handled-503'));
    const span = spanFor(spans(), '/handled-503');
    expect(span.attributes['http.response.status_code']).toBe(503);
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('PaymentError');
    expect(exceptionOf(span)).toHaveLength(1);
  });

  if (major === 5) {
    it('an async handler that rejects (Express 5): 500 with the exception recorded', async () => {
      expect((await send(`${server.url}/async-reject`)).status).toBe(500);
      await tracing.receiver.waitFor((s) => s.some((x) => x.attributes['url.path'] === '/async-reject'));
      const span = spanFor(spans(), '/async-reject');
      expect(span.status.code).toBe(ERROR);
      expect(span.attributes['error.type']).toBe('PaymentError');
      expect(exceptionOf(span).map((e) => e.message)).toEqual(['async failure']);
    });
  }

  it('a 500 the handler sends itself: ERROR with error.type "500", no exception', async () => {
    expect((await send(`${server.url}/sent-500`)).status).toBe(500);
    await tracing.receiver.waitFor((s) => s.some((x) => x.attributes['url.path'] === '/sent-500'));
    const span = spanFor(spans(), '/sent-500');
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('500');
    expect(exceptionOf(span)).toHaveLength(0);
  });

  it('a streamed body: the span ends when the last chunk is written, not when the handler returns', async () => {
    const reply = await send(`${server.url}/stream`);
    expect(reply.body).toBe('chunk 1\nchunk 2\nchunk 3\nchunk 4\n');
    await tracing.receiver.waitFor((s) => s.some((x) => x.attributes['url.path'] === '/stream'));
    const span = spanFor(spans(), '/stream');
    expect(durationMs(span)).toBeGreaterThanOrEqual(300);
    expect(span.status.code).toBe(UNSET);
    expect(span.name).toBe('GET /stream');
  });

  it('a client abort: one span, ERROR, error.type "aborted", route still named', async () => {
    await abortedRequest(server.port, '/slow');
    await tracing.receiver.waitFor((s) => s.some((x) => x.attributes['url.path'] === '/slow'));
    await sleep(2100); // the handler's late send after the abort must not produce a second span
    const span = spanFor(spans(), '/slow');
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('aborted');
    expect(span.attributes['http.route']).toBe('/slow');
  });
});

describe('Express 4 without recordErrors()', () => {
  let tracing: Tracing;
  let server: Served;
  beforeAll(async () => {
    tracing = await officialSdk();
    server = await serve(buildApp(express4 as unknown as ExpressFactory, 4, false));
  });
  afterAll(async () => {
    await server?.close();
    await tracing?.shutdown();
  });

  it('a thrown error still makes an ERROR span from the 500 the app sent (the exception itself is not seen)', async () => {
    expect((await send(`${server.url}/sync-throw`)).status).toBe(500);
    const [span] = await tracing.waitForServerSpans(1);
    expect(span?.status.code).toBe(ERROR);
    expect(span?.attributes['error.type']).toBe('500');
    expect(span?.events.filter((e) => e.name === 'exception')).toHaveLength(0);
  });
});

/**
 * tracewire() registered again inside a sub-app (a team's own app mounted into the main one): the
 * request still gets one span, named with the sub-app's route, and an error thrown there is
 * recorded once. The request's state lives in its context, not on `req` or `res` (Express swaps
 * their prototypes per request, and a property added after that costs a map migration on Node 20).
 */
describe.each(matrix)(
  '%s: tracewire() registered in the app and again in a sub-app',
  (_l, express, major, withRecorder) => {
    let tracing: Tracing;
    let server: Served;
    let ownSymbols: string[] = [];

    beforeAll(async () => {
      tracing = await officialSdk();
      const admin = express();
      admin.use(tracewire());
      admin.get('/users/:id', (req: Request, res: Response) => {
        ownSymbols = [...Object.getOwnPropertySymbols(req), ...Object.getOwnPropertySymbols(res)]
          .map((s) => s.description ?? '')
          .filter((d) => d.startsWith('tracewire'));
        res.send(`user ${req.params.id}`);
      });
      admin.get('/boom', () => {
        throw new PaymentError('admin failure');
      });
      if (withRecorder) admin.use(recordErrors());
      const app = express();
      app.use(tracewire());
      app.use('/admin', admin);
      if (withRecorder) app.use(recordErrors());
      server = await serve(app);
    });
    afterAll(async () => {
      await server?.close();
      await tracing?.shutdown();
    });

    it('one span, named with the sub-app route, and nothing of tracewire left on req or res', async () => {
      tracing.receiver.reset();
      expect((await send(`${server.url}/admin/users/7`)).status).toBe(200);
      await tracing.waitForServerSpans(1);
      await sleep(50); // a second span would have arrived with the first (same batch) or just after
      const spans = tracing.serverSpans();
      expect(spans).toHaveLength(1);
      expect(spans[0]?.name).toBe('GET /admin/users/:id');
      expect(spans[0]?.attributes['http.route']).toBe('/admin/users/:id');
      expect(ownSymbols).toEqual([]);
    });

    it(`an error thrown in the sub-app is recorded once (${major === 5 ? 'router channel' : 'recordErrors()'})`, async () => {
      tracing.receiver.reset();
      expect((await send(`${server.url}/admin/boom`)).status).toBe(500);
      await tracing.waitForServerSpans(1);
      await sleep(50);
      const spans = tracing.serverSpans();
      expect(spans).toHaveLength(1);
      const span = spanFor(spans, '/admin/boom');
      expect(span.status.code).toBe(ERROR);
      expect(span.attributes['error.type']).toBe('PaymentError');
      expect(exceptionOf(span).map((e) => e.message)).toEqual(['admin failure']);
    });
  },
);
