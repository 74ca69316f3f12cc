// tracewire viewer UI: plain browser JavaScript, no framework, no network access beyond this
// origin's JSON API. Every value coming from a trace is inserted as text (never as HTML).

(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    traces: [],
    selectedTraceId: undefined,
    trace: undefined,
    selectedSpanId: undefined,
    live: true,
    version: -1,
    listKey: '',
  };

  // Colours per service: stable across traces (hash of the name), distinguishable, and readable in
  // light and dark themes.
  const PALETTE = [
    '#3b82f6',
    '#f59e0b',
    '#10b981',
    '#8b5cf6',
    '#ec4899',
    '#06b6d4',
    '#84cc16',
    '#f97316',
    '#6366f1',
    '#14b8a6',
  ];
  const colourCache = new Map();
  function colourOf(service) {
    let c = colourCache.get(service);
    if (c === undefined) {
      let h = 2166136261;
      for (let i = 0; i < service.length; i++) h = Math.imul(h ^ service.charCodeAt(i), 16777619);
      c = PALETTE[(h >>> 0) % PALETTE.length];
      colourCache.set(service, c);
    }
    return c;
  }

  const MAX_ROWS = 3000;
  const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k === 'svc') node.style.setProperty('--svc', v);
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) if (c !== undefined && c !== null && c !== false) node.append(c);
    return node;
  }

  function fmtDuration(ms) {
    if (!Number.isFinite(ms)) return '–';
    if (ms === 0) return '0 ms';
    if (ms < 1) return `${Math.round(ms * 1000)} µs`;
    if (ms < 10) return `${ms.toFixed(2)} ms`;
    if (ms < 1000) return `${ms.toFixed(1)} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
    return `${(ms / 60_000).toFixed(1)} min`;
  }

  function fmtTime(ms) {
    const d = new Date(ms);
    const now = new Date();
    const time = `${d.toLocaleTimeString(undefined, { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
    if (d.toDateString() === now.toDateString()) return time;
    return `${d.toLocaleDateString()} ${time}`;
  }

  async function api(path) {
    const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(body.error || `HTTP ${res.status}`);
    }
    return res.json();
  }

  // ---------- filters and list ----------

  function filterParams() {
    const p = new URLSearchParams();
    const service = $('f-service').value;
    const route = $('f-route').value;
    const status = $('f-status').value;
    const min = $('f-min').value.trim();
    if (service) p.set('service', service);
    if (route) p.set('route', route);
    if (status) p.set('status', status);
    if (min && Number(min) >= 0) p.set('minDurationMs', min);
    p.set('limit', '500');
    return p;
  }

  function fillSelect(select, values, allLabel) {
    const current = select.value;
    const wanted = [''].concat(values);
    const existing = [...select.options].map((o) => o.value);
    if (existing.length === wanted.length && existing.every((v, i) => v === wanted[i])) return;
    select.replaceChildren(el('option', { value: '', text: allLabel }));
    for (const v of values) select.append(el('option', { value: v, text: v }));
    // Keep a selected value even if no stored trace has it any more.
    if (current && !values.includes(current)) select.append(el('option', { value: current, text: current }));
    select.value = current;
  }

  async function refreshFilters() {
    const [{ services }, { routes }] = await Promise.all([api('/api/services'), api('/api/routes')]);
    fillSelect($('f-service'), services, 'All services');
    fillSelect($('f-route'), routes, 'All routes');
  }

  async function refreshList() {
    const { traces } = await api(`/api/traces?${filterParams()}`);
    state.traces = traces;
    renderList();
  }

  function renderList() {
    const list = $('trace-list');
    const focusedId = document.activeElement?.dataset?.traceId;
    const key = JSON.stringify(state.traces.map((t) => [t.traceId, t.spanCount, t.errorCount, t.durationMs]));
    const unchanged = key === state.listKey;
    state.listKey = key;
    if (!unchanged) {
      list.replaceChildren(
        ...state.traces.map((t) => {
          const when = fmtTime(t.startTimeMs);
          const errorText = t.errorCount > 0 ? `, ${t.errorCount} error${t.errorCount > 1 ? 's' : ''}` : '';
          const label = `${t.rootName}, ${t.services.join(', ')}, ${fmtDuration(t.durationMs)}, ${t.spanCount} spans${errorText}, started ${when}`;
          return el(
            'li',
            null,
            el(
              'button',
              {
                type: 'button',
                class: 'trace-item',
                'data-trace-id': t.traceId,
                'aria-label': label,
                onclick: () => openTrace(t.traceId, true),
              },
              el(
                'span',
                { class: 'name' },
                t.errorCount > 0 ? el('span', { class: 'badge-error', text: 'error' }) : undefined,
                el('span', { class: 'txt', text: t.rootName || '(unnamed span)' }),
                t.missingRoot
                  ? el('span', {
                      class: 'badge-muted',
                      text: 'no root',
                      title: 'The root span has not been received',
                    })
                  : undefined,
              ),
              el('span', { class: 'dur', text: fmtDuration(t.durationMs) }),
              el(
                'span',
                { class: 'meta' },
                el(
                  'span',
                  { class: 'chips' },
                  ...t.services.map((s) => el('span', { class: 'chip', svc: colourOf(s), text: s })),
                ),
                el('span', { class: 'count', text: `${t.spanCount} span${t.spanCount === 1 ? '' : 's'}` }),
                el('span', { class: 'when', text: when }),
              ),
            ),
          );
        }),
      );
    }
    for (const b of list.querySelectorAll('.trace-item')) {
      if (b.dataset.traceId === state.selectedTraceId) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
    if (focusedId) list.querySelector(`[data-trace-id="${focusedId}"]`)?.focus();
    $('empty').hidden = state.traces.length > 0 || filterParams().size > 1;
    $('list-meta').textContent =
      state.traces.length === 0 && filterParams().size > 1
        ? 'No trace matches these filters.'
        : `${state.traces.length} trace${state.traces.length === 1 ? '' : 's'}, newest first`;
  }

  // Arrow keys move between traces; Enter/Space open (native buttons); Home/End jump.
  $('trace-list').addEventListener('keydown', (e) => {
    const items = [...$('trace-list').querySelectorAll('.trace-item')];
    if (items.length === 0) return;
    const i = items.indexOf(document.activeElement);
    let next;
    if (e.key === 'ArrowDown') next = items[Math.min(items.length - 1, i + 1)];
    else if (e.key === 'ArrowUp') next = items[Math.max(0, i - 1)];
    else if (e.key === 'Home') next = items[0];
    else if (e.key === 'End') next = items[items.length - 1];
    else if (e.key === 'ArrowRight' && i >= 0) {
      e.preventDefault();
      openTrace(items[i].dataset.traceId, false).then(() => focusRow(0));
      return;
    }
    if (next) {
      e.preventDefault();
      next.focus();
    }
  });

  for (const id of ['f-service', 'f-route', 'f-status'])
    $(id).addEventListener('change', () => void refreshList());
  let minTimer;
  $('f-min').addEventListener('input', () => {
    clearTimeout(minTimer);
    minTimer = setTimeout(() => void refreshList(), 250);
  });
  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    void refreshList();
  });

  // ---------- trace view ----------

  async function openTrace(traceId, fromList) {
    state.selectedTraceId = traceId;
    if (location.hash !== `#/trace/${traceId}`) history.replaceState(null, '', `#/trace/${traceId}`);
    renderList();
    try {
      state.trace = await api(`/api/traces/${traceId}`);
    } catch (err) {
      state.trace = undefined;
      $('placeholder').hidden = false;
      $('trace-view').hidden = true;
      $('placeholder').replaceChildren(el('p', { text: `Cannot show trace ${traceId}: ${err.message}` }));
      return;
    }
    const t = state.trace;
    if (!state.selectedSpanId || !t.spans.some((s) => s.spanId === state.selectedSpanId)) {
      // Start where the problem is: the span that recorded an exception, else the first failed span.
      const withException = t.spans.find((s) => s.events.some((e) => e.name === 'exception'));
      const firstError = t.spans.find((s) => s.status.code === 2);
      state.selectedSpanId = (withException || firstError || t.spans[0]).spanId;
    }
    renderTrace();
    if (fromList) focusRow(t.spans.findIndex((s) => s.spanId === state.selectedSpanId));
  }

  function renderTrace() {
    const t = state.trace;
    $('placeholder').hidden = true;
    $('trace-view').hidden = false;
    $('detail-heading').replaceChildren(
      t.errorCount > 0 ? el('span', { class: 'badge-error', text: 'error' }) : '',
      el('span', { text: t.rootName || '(unnamed span)' }),
      t.missingRoot ? el('span', { class: 'badge-muted', text: 'root span missing' }) : '',
    );
    $('trace-sub').replaceChildren(
      `${fmtDuration(t.durationMs)} · ${t.spanCount} spans · ${t.services.length} service${t.services.length === 1 ? '' : 's'}${
        t.errorCount ? ` · ${t.errorCount} error${t.errorCount > 1 ? 's' : ''}` : ''
      } · ${fmtTime(t.startTimeMs)} · trace `,
      el('code', { text: t.traceId }),
    );
    $('legend').replaceChildren(
      ...t.services.map((s) => el('li', { class: 'chip', svc: colourOf(s), text: s })),
    );
    renderWaterfall();
    renderSpan();
  }

  function niceStep(total) {
    const raw = total / 5;
    const pow = 10 ** Math.floor(Math.log10(raw || 1));
    for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * pow) return m * pow;
    return 10 * pow;
  }

  function renderWaterfall() {
    const t = state.trace;
    const total = Math.max(t.durationMs, 0.001);
    const pct = (ms) => `${Math.min(100, Math.max(0, (ms / total) * 100))}%`;
    const step = niceStep(total);
    const ticks = [];
    for (let v = 0; v <= total + 1e-9 && ticks.length < 12; v += step) ticks.push(v);
    const axis = el(
      'div',
      { class: 'wf-axis', 'aria-hidden': 'true' },
      el('div', { class: 'label', text: 'Service / span' }),
      el(
        'div',
        { class: 'ticks' },
        ...ticks.map((v) => {
          const tick = el('span', { class: 'tick', text: fmtDuration(v) });
          tick.style.left = pct(v);
          return tick;
        }),
      ),
    );
    // Thousands of rows make the page sluggish; draw the first ones and say so.
    const shown = t.spans.length > MAX_ROWS ? t.spans.slice(0, MAX_ROWS) : t.spans;
    const rows = shown.map((s, i) => {
      const colour = colourOf(s.service);
      const isError = s.status.code === 2;
      const bar = el('div', { class: `wf-bar${isError ? ' error' : ''}`, svc: colour });
      bar.style.left = pct(s.startOffsetMs);
      bar.style.width = `max(2px, ${pct(s.durationMs)})`;
      const spanStartNs = BigInt(s.startTimeUnixNano);
      for (const ev of s.events) {
        const offset = Number(BigInt(ev.timeUnixNano) - spanStartNs) / 1e6;
        const mark = el('span', {
          class: `mark${ev.name === 'exception' ? ' exception' : ''}`,
          title: ev.name,
        });
        mark.style.left =
          s.durationMs > 0 ? `${Math.min(100, Math.max(0, (offset / s.durationMs) * 100))}%` : '0';
        bar.append(mark);
      }
      const dur = el('span', { class: 'wf-dur', text: fmtDuration(s.durationMs) });
      dur.style.left = `calc(${pct(s.startOffsetMs + s.durationMs)})`;
      const track = el(
        'div',
        { class: 'wf-track' },
        ...ticks.slice(1).map((v) => {
          const g = el('span', { class: 'grid' });
          g.style.left = pct(v);
          return g;
        }),
        bar,
        dur,
      );
      const name = el(
        'div',
        { class: 'wf-name' },
        el('span', { class: 'svc', svc: colour }),
        isError ? el('span', { class: 'badge-error', text: 'error' }) : undefined,
        el('span', { class: 'txt', text: s.name || '(unnamed)', title: s.name }),
        el('span', { class: 'kind', text: KINDS[s.kind] || String(s.kind) }),
        s.orphan
          ? el('span', {
              class: 'badge-muted',
              text: 'no parent',
              title: `Parent span ${s.parentSpanId} has not been received`,
            })
          : undefined,
        el('span', { class: 'svcname', text: s.service }),
      );
      name.style.paddingLeft = `${10 + Math.min(s.depth, 24) * 16}px`;
      return el(
        'div',
        {
          class: 'wf-row',
          role: 'treeitem',
          'aria-level': s.depth + 1,
          'aria-selected': s.spanId === state.selectedSpanId ? 'true' : 'false',
          'aria-label': `${s.name}, ${s.service}, ${fmtDuration(s.durationMs)}${isError ? ', error' : ''}${s.orphan ? ', parent missing' : ''}`,
          tabindex: s.spanId === state.selectedSpanId ? '0' : '-1',
          'data-span-id': s.spanId,
          'data-index': i,
          onclick: () => selectSpan(s.spanId, i),
        },
        name,
        track,
      );
    });
    const more =
      shown.length < t.spans.length
        ? el('p', {
            class: 'none wf-more',
            text: `Showing the first ${shown.length} of ${t.spans.length} spans.`,
          })
        : undefined;
    $('waterfall').replaceChildren(axis, ...rows, ...(more ? [more] : []));
  }

  function rowsEls() {
    return [...$('waterfall').querySelectorAll('.wf-row')];
  }

  function focusRow(i) {
    const rows = rowsEls();
    const row = rows[Math.max(0, Math.min(rows.length - 1, i))];
    if (!row) return;
    for (const r of rows) r.tabIndex = -1;
    row.tabIndex = 0;
    row.focus();
  }

  function selectSpan(spanId, index) {
    state.selectedSpanId = spanId;
    for (const r of rowsEls())
      r.setAttribute('aria-selected', r.dataset.spanId === spanId ? 'true' : 'false');
    focusRow(index);
    renderSpan();
  }

  $('waterfall').addEventListener('keydown', (e) => {
    const rows = rowsEls();
    const i = rows.indexOf(document.activeElement);
    if (i < 0) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp' || e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      const j =
        e.key === 'ArrowDown' ? i + 1 : e.key === 'ArrowUp' ? i - 1 : e.key === 'Home' ? 0 : rows.length - 1;
      const target = rows[Math.max(0, Math.min(rows.length - 1, j))];
      selectSpan(target.dataset.spanId, Number(target.dataset.index));
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      selectSpan(rows[i].dataset.spanId, i);
      $('span-detail').scrollIntoView({ block: 'nearest' });
    }
  });

  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    const current =
      $('trace-list').querySelector('[aria-current="true"]') || $('trace-list').querySelector('.trace-item');
    current?.focus();
  });

  // ---------- span details ----------

  function valueText(v) {
    if (v === null || v === undefined) return ['', ''];
    if ('stringValue' in v) return [v.stringValue, 'string'];
    if ('boolValue' in v) return [String(v.boolValue), 'bool'];
    if ('intValue' in v) return [v.intValue, 'int'];
    if ('doubleValue' in v) return [String(v.doubleValue), 'double'];
    if ('bytesValue' in v) return [v.bytesValue, 'bytes (base64)'];
    if ('arrayValue' in v) return [JSON.stringify(v.arrayValue.values.map(plain)), 'array'];
    if ('kvlistValue' in v) return [JSON.stringify(plainKv(v.kvlistValue.values)), 'kvlist'];
    return ['', 'empty'];
  }
  function plain(v) {
    if ('stringValue' in v) return v.stringValue;
    if ('boolValue' in v) return v.boolValue;
    if ('intValue' in v) return v.intValue;
    if ('doubleValue' in v) return v.doubleValue;
    if ('bytesValue' in v) return v.bytesValue;
    if ('arrayValue' in v) return v.arrayValue.values.map(plain);
    if ('kvlistValue' in v) return plainKv(v.kvlistValue.values);
    return null;
  }
  function plainKv(kvs) {
    const o = {};
    for (const kv of kvs) o[kv.key] = plain(kv.value);
    return o;
  }

  function kvTable(kvs, label, extraRows = []) {
    if (kvs.length === 0 && extraRows.length === 0) return el('p', { class: 'none', text: 'none' });
    return el(
      'table',
      { class: 'kv', 'aria-label': label },
      el(
        'tbody',
        null,
        ...extraRows.map(([k, v]) => el('tr', null, el('th', { scope: 'row', text: k }), el('td', null, v))),
        ...kvs.map((kv) => {
          const [text, type] = valueText(kv.value);
          return el(
            'tr',
            null,
            el('th', { scope: 'row', text: kv.key }),
            el('td', null, text, el('span', { class: 'type', text: type })),
          );
        }),
      ),
    );
  }

  function attr(kvs, key) {
    const kv = kvs.find((a) => a.key === key);
    return kv ? valueText(kv.value)[0] : undefined;
  }

  function renderSpan() {
    const t = state.trace;
    const s = t?.spans.find((x) => x.spanId === state.selectedSpanId);
    const panel = $('span-detail');
    if (!s) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    const isError = s.status.code === 2;
    $('span-heading').replaceChildren(
      el('span', { class: 'chip', svc: colourOf(s.service), text: s.service }),
      el('span', { text: s.name || '(unnamed)' }),
    );
    $('span-sub').textContent =
      `${KINDS[s.kind] || s.kind} · ${fmtDuration(s.durationMs)} · starts at +${fmtDuration(s.startOffsetMs)}`;
    const statusText = ['unset', 'ok', 'error'][s.status.code] || String(s.status.code);
    const facts = [
      [
        'status',
        el('span', {
          class: isError ? 'status-error' : s.status.code === 1 ? 'status-ok' : '',
          text: statusText + (s.status.message ? `: ${s.status.message}` : ''),
        }),
      ],
      ['start', `${fmtTime(Number(BigInt(s.startTimeUnixNano) / 1000000n))}`],
      ['duration', fmtDuration(s.durationMs)],
      ['span id', s.spanId],
      ['parent span id', s.parentSpanId ? s.parentSpanId + (s.orphan ? ' (not received)' : '') : '(root)'],
      ['trace id', s.traceId],
      ['scope', `${s.scope.name || '(none)'}${s.scope.version ? ` ${s.scope.version}` : ''}`],
      ['start (ns)', s.startTimeUnixNano],
      ...(s.traceState ? [['trace state', s.traceState]] : []),
      ...(s.droppedAttributesCount || s.droppedEventsCount || s.droppedLinksCount
        ? [
            [
              'dropped',
              `${s.droppedAttributesCount} attributes, ${s.droppedEventsCount} events, ${s.droppedLinksCount} links`,
            ],
          ]
        : []),
    ];
    const overview = el(
      'dl',
      { class: 'facts', 'aria-label': 'Span' },
      ...facts.map(([k, v]) => el('div', null, el('dt', { text: k }), el('dd', null, v))),
    );
    const spanStart = BigInt(s.startTimeUnixNano);
    const events =
      s.events.length === 0
        ? el('p', { class: 'none', text: 'none' })
        : el(
            'div',
            null,
            ...s.events.map((ev) => {
              const isException = ev.name === 'exception';
              const offset = Number(BigInt(ev.timeUnixNano) - spanStart) / 1e6;
              const stack = isException ? attr(ev.attributes, 'exception.stacktrace') : undefined;
              const rest = stack
                ? ev.attributes.filter((a) => a.key !== 'exception.stacktrace')
                : ev.attributes;
              const title = isException
                ? `${attr(ev.attributes, 'exception.type') || 'exception'}${attr(ev.attributes, 'exception.message') ? `: ${attr(ev.attributes, 'exception.message')}` : ''}`
                : ev.name;
              return el(
                'section',
                { class: `event${isException ? ' exception' : ''}`, 'aria-label': `Event ${ev.name}` },
                el(
                  'header',
                  null,
                  el('strong', { text: title }),
                  el('span', { text: `+${fmtDuration(offset)}` }),
                ),
                kvTable(rest, `Attributes of event ${ev.name}`),
                stack
                  ? el('pre', { class: 'stack', 'aria-label': 'Stack trace', tabindex: '0', text: stack })
                  : undefined,
              );
            }),
          );
    const links =
      s.links.length === 0
        ? el('p', { class: 'none', text: 'none' })
        : el(
            'div',
            null,
            ...s.links.map((l) => {
              const inStore = l.traceId !== s.traceId;
              return el(
                'div',
                { class: 'event' },
                el(
                  'header',
                  null,
                  el('button', {
                    type: 'button',
                    class: 'link-btn',
                    text: `${l.traceId} / ${l.spanId}`,
                    onclick: () => openTrace(l.traceId, true),
                  }),
                  el('span', { text: inStore ? 'other trace' : 'same trace' }),
                ),
                kvTable(l.attributes, 'Link attributes'),
              );
            }),
          );
    $('span-body').replaceChildren(
      overview,
      el('h4', { text: `Events (${s.events.length})` }),
      events,
      el('h4', { text: `Attributes (${s.attributes.length})` }),
      kvTable(s.attributes, 'Span attributes'),
      el('h4', { text: `Links (${s.links.length})` }),
      links,
      el('h4', { text: 'Resource' }),
      kvTable(s.resource.attributes, 'Resource attributes'),
    );
  }

  // ---------- live refresh ----------

  async function refreshStats() {
    const stats = await api('/api/stats');
    $('stat-traces').textContent = stats.traces.toLocaleString();
    $('stat-received').textContent = stats.spansReceived.toLocaleString();
    $('stat-rejected').textContent = stats.spansRejected.toLocaleString();
    $('stat-evicted').textContent = stats.evictedTraces.toLocaleString();
    $('endpoint').textContent = `${stats.otlpUrl}/v1/traces`;
    $('empty-endpoint').textContent = `OTEL_EXPORTER_OTLP_ENDPOINT=${stats.otlpUrl}`;
    return stats.version;
  }

  async function tick() {
    try {
      const version = await refreshStats();
      if (version !== state.version) {
        state.version = version;
        await Promise.all([refreshFilters(), refreshList()]);
        // Spans of the open trace may still be arriving: refresh it too, keeping the selection.
        if (state.selectedTraceId && state.trace) {
          const fresh = await api(`/api/traces/${state.selectedTraceId}`).catch(() => undefined);
          if (fresh && fresh.spanCount !== state.trace.spanCount) {
            const focusedIndex = rowsEls().indexOf(document.activeElement);
            state.trace = fresh;
            renderTrace();
            if (focusedIndex >= 0) focusRow(fresh.spans.findIndex((x) => x.spanId === state.selectedSpanId));
          }
        }
      }
    } catch {
      // The viewer may be restarting; try again on the next tick.
    }
  }

  let timer = setInterval(tick, 2000);
  $('live').addEventListener('click', () => {
    state.live = !state.live;
    $('live').setAttribute('aria-pressed', String(state.live));
    $('live-label').textContent = state.live ? 'Live' : 'Paused';
    clearInterval(timer);
    if (state.live) {
      timer = setInterval(tick, 2000);
      void tick();
    }
  });

  async function init() {
    await tick();
    const m = /^#\/trace\/([0-9a-f]{32})$/.exec(location.hash);
    if (m) await openTrace(m[1], false);
  }
  void init();
})();
