// Renders the throughput ratios as a bar chart: an SVG built from the numbers, turned into a PNG by
// headless Chromium (Debian's /usr/bin/chromium through playwright-core). No network is used.
import { existsSync, writeFileSync } from 'node:fs';

const COLORS = {
  bare: '#9aa5b1',
  tracewire: '#2f80ed',
  'tracewire-unsampled': '#56ccf2',
  official: '#eb5757',
};

export function chartSvg(results) {
  const groups = results.flatMap((r) =>
    [...new Set(r.summary.map((s) => s.framework))].map((framework) => ({
      label: `${framework} · Node ${r.node.replace(/^v/, '').split('.')[0]}`,
      bars: r.summary.filter((s) => s.framework === framework),
    })),
  );
  const barW = 22;
  const gap = 34;
  const groupW = (bars) => bars.length * barW + gap;
  const width = 90 + groups.reduce((a, g) => a + groupW(g.bars), 0);
  const height = 360;
  const plotH = 240;
  const y0 = 40 + plotH;
  const max = 1.1;
  const y = (v) => y0 - (Math.min(v, max) / max) * plotH;
  let x = 70;
  let body = '';
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    body += `<line x1="60" x2="${width - 10}" y1="${y(t)}" y2="${y(t)}" stroke="#e0e0e0"/><text x="54" y="${y(t) + 4}" text-anchor="end" font-size="11">${t.toFixed(2)}</text>`;
  }
  for (const g of groups) {
    const start = x;
    for (const b of g.bars) {
      const v = Number.isFinite(b.rpsRatio) ? b.rpsRatio : 0;
      body += `<rect x="${x}" y="${y(v)}" width="${barW - 4}" height="${y0 - y(v)}" fill="${COLORS[b.mode] ?? '#333'}"><title>${b.mode}: ${v.toFixed(2)}</title></rect>`;
      body += `<text x="${x + (barW - 4) / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="9">${v.toFixed(2)}</text>`;
      x += barW;
    }
    body += `<text x="${(start + x - 4) / 2}" y="${y0 + 18}" text-anchor="middle" font-size="11">${g.label}</text>`;
    x += gap;
  }
  let lx = 70;
  for (const [mode, color] of Object.entries(COLORS)) {
    body += `<rect x="${lx}" y="${height - 30}" width="12" height="12" fill="${color}"/><text x="${lx + 16}" y="${height - 20}" font-size="12">${mode}</text>`;
    lx += 40 + mode.length * 7;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="60" y="24" font-size="15" font-weight="bold">Throughput relative to the bare server (higher is better)</text>${body}</svg>`;
}

/** Writes the PNG; returns false (and writes nothing) when Chromium is not installed. */
export async function renderChartPng(results, file) {
  if (!existsSync('/usr/bin/chromium')) return false;
  const { chromium } = await import('playwright-core');
  const svg = chartSvg(results);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    const el = await page.$('svg');
    writeFileSync(file, await el.screenshot());
    return true;
  } finally {
    await browser.close();
  }
}
