/**
 * A newcomer's view: the viewer UI in a real browser (Debian chromium + playwright-core) showing the
 * demo's traces. Find a failed order, open its waterfall, and see the spans of all four services and
 * the payment provider's exception. Saves test-results/demo-waterfall.png.
 */
import { mkdirSync } from 'node:fs';
import type { Viewer } from '@tracewire/viewer';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../src/launch.js';
import { placeOrder } from '../src/traffic.js';
import { startAll, waitForTrace } from './helpers.js';

let viewer: Viewer;
let demo: Demo;
let browser: Browser;

beforeAll(async () => {
  ({ viewer, demo } = await startAll());
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  await viewer?.close();
});

describe('the demo in the viewer UI', () => {
  it('shows a failed order as an error trace whose waterfall spans four services and shows the exception', async () => {
    const ok = await placeOrder(demo.gatewayUrl, 'ok');
    const failed = await placeOrder(demo.gatewayUrl, 'provider-error');
    expect(failed.status).toBe(502);
    await waitForTrace(viewer, ok.traceId!, 10);
    await waitForTrace(viewer, failed.traceId!, 13);

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(viewer.uiUrl);
    const items = page.locator('.trace-item');
    await expect.poll(() => items.count()).toBeGreaterThanOrEqual(2);

    await page.getByLabel('Status').selectOption('error');
    await expect.poll(() => items.count()).toBe(1);
    expect(await items.first().textContent()).toContain('POST /orders');
    await items.first().focus();
    await page.keyboard.press('Enter');

    const rows = page.locator('.wf-row');
    await expect.poll(() => rows.count()).toBe(13);
    const names = await rows.locator('.txt').allTextContents();
    for (const n of [
      'POST /orders',
      'POST /api/orders',
      'saga.place-order',
      'POST /reservations',
      'POST /charges',
      'saga.compensate',
      'DELETE /reservations/:id',
    ]) {
      expect(names).toContain(n);
    }
    expect(await page.locator('#legend').textContent()).toBe('gatewayordersinventorypayments');
    // Open the payments span, where the provider's exception was thrown: its stack trace is shown.
    await rows.filter({ hasText: 'POST /charges' }).first().click();
    await expect.poll(() => page.locator('#span-heading').textContent()).toContain('POST /charges');
    await expect
      .poll(() => page.locator('.event.exception header strong').first().textContent())
      .toContain('PaymentProviderError: card network timed out');
    expect(await page.locator('.event.exception .stack').first().textContent()).toContain('payments.js');

    mkdirSync(new URL('../test-results/', import.meta.url), { recursive: true });
    await page.screenshot({ path: new URL('../test-results/demo-waterfall.png', import.meta.url).pathname });
    expect(errors).toEqual([]);
  });
});
