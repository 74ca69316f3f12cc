/**
 * inventory (Fastify): reserves stock for an order and releases it when the order is compensated.
 */
import { start } from '@tracewire/core';
import { tracewire } from '@tracewire/fastify';
import Fastify from 'fastify';
import { announce, closeOnSignal, env, sleep } from './shared.js';

const tracing = start({ serviceName: 'inventory', serviceVersion: '1.0.0' });

const stock = new Map<string, number>([
  ['book', 1_000_000],
  ['lamp', 1_000_000],
  ['chair', 1_000_000],
  ['rare-vinyl', 0],
]);
const reservations = new Map<string, { sku: string; quantity: number }>();
let nextId = 1;

const app = Fastify();
await app.register(tracewire);

app.post<{ Body: { sku: string; quantity: number; slow?: boolean } }>('/reservations', async (req, reply) => {
  const { sku, quantity, slow } = req.body;
  if (slow) await sleep(300); // a slow warehouse lookup, visible in the waterfall
  const available = stock.get(sku) ?? 0;
  if (available < quantity) {
    return reply.code(409).send({ error: `only ${available} ${sku} left` });
  }
  stock.set(sku, available - quantity);
  const id = `r-${nextId++}`;
  reservations.set(id, { sku, quantity });
  return reply.code(201).send({ id, sku, quantity });
});

app.delete<{ Params: { id: string } }>('/reservations/:id', async (req, reply) => {
  const r = reservations.get(req.params.id);
  if (!r) return reply.code(404).send({ error: 'no such reservation' });
  reservations.delete(req.params.id);
  stock.set(r.sku, (stock.get(r.sku) ?? 0) + r.quantity);
  return reply.code(200).send({ released: req.params.id });
});

await app.listen({ port: Number(env('PORT', '0')), host: '127.0.0.1' });
announce('inventory', app.server);
closeOnSignal(async () => {
  await app.close();
  await tracing.shutdown();
});
