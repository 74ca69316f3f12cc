/**
 * The UI in a real browser (Debian chromium driven by playwright-core): find the failed trace with
 * the filters and the keyboard, open its waterfall, and see the spans and the exception's stack.
 * Chromium is a hard requirement (CI installs it: `apt-get install -y chromium`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, type Viewer } from '../src/index.js';
import { checkoutTrace, postJson, postProto, toProto } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = new URL('../test-results/', import.meta.url);

let viewer: Viewer;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

function okTrace(n: number) {
  const id = (n + 1).toString(16).padStart(2, '0');
  const start = 1_795_000_000_000_000_000n + BigInt(n) * 1_000_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'catalog' } }] },
        scopeSpans: [
          {
            scope: { name: '@tracewire/fastify', version: '0.1.0' },
            spans: [
              {
                traceId: `${id}`.repeat(16),
                spanId: `${id}`.repeat(8),
                name: 'GET /items/:id',
                kind: 2,
                startTimeUnixNano: String(start),
                endTimeUnixNano: String(start + 4_200_000n),
                attributes: [
                  { key: 'http.route', value: { stringValue: '/items/:id' } },
                  { key: 'http.response.status_code', value: { intValue: '200' } },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser test needs Chromium at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\`.`,
    );
  }
  viewer = await startViewer({ otlpPort: 0, uiPort: 0, env: {} });
  for (let i = 0; i < 3; i++) expect((await postJson(viewer.otlpUrl, okTrace(i))).status).toBe(200);
  expect((await postProto(viewer.otlpUrl, toProto(checkoutTrace()))).status).toBe(200);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
});

describe('viewer UI in Chromium', () => {
  it('finds the failed trace, opens its waterfall, and shows the spans and the exception stack', async () => {
    await page.goto(viewer.uiUrl);
    const items = page.locator('.trace-item');
    await expect.poll(() => items.count()).toBe(4);

    // Filter to failed traces with the Status select (a labelled control).
    await page.getByLabel('Status').selectOption('error');
    await expect.poll(() => items.count()).toBe(1);
    await expect.poll(() => items.first().textContent()).toContain('POST /orders');
    expect(await items.first().locator('.badge-error').count()).toBe(1);

    // Keyboard: focus the list item and open it with Enter.
    await items.first().focus();
    await page.keyboard.press('Enter');
    const rows = page.locator('.wf-row');
    await expect.poll(() => rows.count()).toBe(5);
    const names = await rows.locator('.txt').allTextContents();
    expect(names).toEqual(['POST /orders', 'POST', 'POST /checkout', 'SELECT orders', 'POST /charge']);
    const levels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('aria-level')));
    expect(levels).toEqual(['1', '2', '3', '4', '4']);
    expect(await page.locator('#legend').textContent()).toBe('gatewayorderspayments');

    // The span with the exception is selected first; its stack trace is shown.
    await expect.poll(() => page.locator('#span-heading').textContent()).toContain('POST /charge');
    const stack = page.locator('.event.exception .stack');
    await expect.poll(() => stack.textContent()).toContain('at charge (payments/src/charge.ts:42:11)');
    expect(await page.locator('.event.exception header strong').textContent()).toBe(
      'TypeError: card declined: insufficient funds',
    );
    expect(await stack.isVisible()).toBe(true);

    // Arrow keys move through the waterfall and update the details panel.
    await page.keyboard.press('Home');
    await expect.poll(() => page.locator('#span-heading').textContent()).toContain('POST /orders');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => page.locator('#span-heading').textContent()).toContain('SELECT orders');
    expect(await page.evaluate("document.activeElement?.getAttribute('aria-selected')")).toBe('true');
    await page.keyboard.press('End');
    await expect.poll(() => page.locator('#span-heading').textContent()).toContain('POST /charge');

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: new URL('waterfall.png', SCREENSHOT_DIR).pathname, fullPage: false });

    // Escape returns to the list; the page loaded nothing from elsewhere and logged no errors
    // (a Content-Security-Policy violation would be one).
    await page.keyboard.press('Escape');
    expect(await page.evaluate("document.activeElement?.classList.contains('trace-item')")).toBe(true);
    expect(consoleErrors).toEqual([]);
  });

  it('refreshes live: a trace sent while the page is open appears without a reload', async () => {
    await page.getByLabel('Status').selectOption('');
    const items = page.locator('.trace-item');
    await expect.poll(() => items.count()).toBe(4);
    await postJson(viewer.otlpUrl, okTrace(7));
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBe(5);
    expect(await page.locator('#stat-received').textContent()).toBe('9');
  });
});
