/**
 * gateway (Express): the shop's public API. `POST /orders` validates the request and hands it to
 * the orders service.
 */
import { trace } from '@opentelemetry/api';
import { start } from '@tracewire/core';
import { tracewire } from '@tracewire/express';
import express from 'express';
import { announce, call, closeOnSignal, env } from './shared.js';

const tracing = start({ serviceName: 'gateway', serviceVersion: '1.0.0' });
const ordersUrl = env('ORDERS_URL');

const app = express();
app.use(tracewire({ ignore: ['/healthz'] }));
app.use(express.json());

// Tell the caller which trace their order is in (open it in the viewer: #/trace/<id>).
app.use((_req, res, next) => {
  const traceId = trace.getActiveSpan()?.spanContext().traceId;
  if (traceId) res.setHeader('x-trace-id', traceId);
  next();
});

app.get('/healthz', (_req, res) => {
  res.json({ ok: true });
});

app.post('/orders', async (req, res, next) => {
  try {
    const { sku, quantity, card, slow } = req.body ?? {};
    if (typeof sku !== 'string' || typeof quantity !== 'number' || quantity <= 0) {
      res.status(400).json({ error: 'sku (string) and quantity (positive number) are required' });
      return;
    }
    const order = await call('POST', `${ordersUrl}/orders`, {
      sku,
      quantity,
      card: card ?? 'visa-ok',
      slow: slow === true,
    });
    res.status(order.status).json(order.body);
  } catch (err) {
    next(err);
  }
});

app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  res.status(502).json({ error: `orders service unavailable: ${err.message}` });
});

const server = app.listen(Number(env('PORT', '0')), '127.0.0.1', () => announce('gateway', server));
closeOnSignal(async () => {
  server.close();
  await tracing.shutdown();
});
