/**
 * payments (Koa + @koa/router): charges a card. `card: 'declined'` is refused (402), `card: 'flaky'`
 * makes the payment provider fail (a thrown error, 500), `slow: true` takes 400 ms.
 */
import Router from '@koa/router';
import { start } from '@tracewire/core';
import { tracewire } from '@tracewire/koa';
import Koa from 'koa';
import { announce, closeOnSignal, env, sleep } from './shared.js';

const tracing = start({ serviceName: 'payments', serviceVersion: '1.0.0' });

class PaymentProviderError extends Error {
  override name = 'PaymentProviderError';
}

const app = new Koa();
app.use(tracewire());

// Koa has no body parser built in; the demo needs only small JSON bodies.
app.use(async (ctx, next) => {
  if (ctx.is('application/json')) {
    let raw = '';
    for await (const chunk of ctx.req) raw += chunk;
    (ctx.request as unknown as { body: unknown }).body = raw ? JSON.parse(raw) : {};
  }
  await next();
});

const router = new Router();
router.post('/charges', async (ctx) => {
  const { orderId, amount, card, slow } = (ctx.request as unknown as { body: Record<string, unknown> }).body;
  if (slow) await sleep(400);
  if (card === 'flaky') throw new PaymentProviderError('card network timed out');
  if (card === 'declined') {
    ctx.status = 402;
    ctx.body = { error: 'card declined', orderId };
    return;
  }
  ctx.status = 201;
  ctx.body = { chargeId: `ch-${orderId}`, amount };
});

app.on('error', () => {
  // Koa logs errors by default; the span already records the exception.
});
app.use(router.routes());

const server = app.listen(Number(env('PORT', '0')), '127.0.0.1', () => announce('payments', server));
closeOnSignal(async () => {
  server.close();
  await tracing.shutdown();
});
