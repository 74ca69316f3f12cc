/**
 * The traffic generator: a mix of orders that succeed, are declined, hit a failing payment provider
 * (5xx), are slow, or ask for stock that is gone.
 */

export type OrderKind = 'ok' | 'declined' | 'provider-error' | 'slow' | 'out-of-stock';

export const ORDER_MIX: readonly OrderKind[] = [
  'ok',
  'ok',
  'ok',
  'ok',
  'ok',
  'ok',
  'declined',
  'declined',
  'provider-error',
  'slow',
  'out-of-stock',
];

const BODIES: Record<OrderKind, Record<string, unknown>> = {
  ok: { sku: 'book', quantity: 2, card: 'visa-ok' },
  declined: { sku: 'lamp', quantity: 1, card: 'declined' },
  'provider-error': { sku: 'chair', quantity: 1, card: 'flaky' },
  slow: { sku: 'book', quantity: 1, card: 'visa-ok', slow: true },
  'out-of-stock': { sku: 'rare-vinyl', quantity: 1, card: 'visa-ok' },
};

/** Places one order of the given kind through the gateway; resolves with the HTTP status and body. */
export async function placeOrder(
  gatewayUrl: string,
  kind: OrderKind,
): Promise<{ status: number; body: unknown; traceId: string | null }> {
  const res = await fetch(`${gatewayUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(BODIES[kind]),
  });
  return {
    status: res.status,
    body: await res.json().catch(() => null),
    traceId: res.headers.get('x-trace-id'),
  };
}

/** Sends orders from the mix every `intervalMs` until `signal` aborts. */
export async function generateTraffic(
  gatewayUrl: string,
  {
    intervalMs = 1500,
    signal,
    onOrder,
  }: { intervalMs?: number; signal?: AbortSignal; onOrder?: (kind: OrderKind, status: number) => void } = {},
): Promise<void> {
  let i = 0;
  while (!signal?.aborted) {
    const kind = ORDER_MIX[i++ % ORDER_MIX.length] as OrderKind;
    try {
      const { status } = await placeOrder(gatewayUrl, kind);
      onOrder?.(kind, status);
    } catch {
      // a service restarting: keep generating
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
