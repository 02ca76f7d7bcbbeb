// Usage charts and alerts for the dashboard (loaded after app.js, whose helpers
// it uses: $, api, el, row, when, flash). Charts are inline SVG built with DOM
// calls: no library, no inline script or style, so the strict CSP holds.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#1f6feb', '#d1242f', '#2da44e', '#bf8700', '#8250df', '#0a7f86', '#cf222e', '#57606a'];
const HOUR_MS = 3600000;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/**
 * A line chart: one line per series over the same buckets, a dot per data
 * point (with a tooltip), a y axis from 0 to the maximum, dates under the x
 * axis, and a legend. `buckets` are epoch ms; each series has `values` aligned to them.
 */
function lineChart(buckets, series, { unit = '', hourly = true } = {}) {
  const W = 900, H = 240, L = 48, R = 12, T = 12, B = 36;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => L + (buckets.length <= 1 ? 0 : (i * (W - L - R)) / (buckets.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H + 20 * Math.ceil(series.length / 4)}`, role: 'img', class: 'chart' });
  chart.append(svg('line', { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: '#8c959f' }));
  chart.append(svg('line', { x1: L, y1: T, x2: L, y2: y(0), stroke: '#8c959f' }));
  for (const v of [0, max / 2, max]) {
    chart.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, Math.round(v)));
  }
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  buckets.forEach((b, i) => {
    if (i % labelEvery !== 0) return;
    const d = new Date(b).toISOString();
    chart.append(svg('text', { x: x(i), y: y(0) + 16, 'text-anchor': 'middle', 'font-size': 11, fill: '#57606a' }, hourly ? `${d.slice(5, 10)} ${d.slice(11, 13)}h` : d.slice(5, 10)));
  });
  series.forEach((s, n) => {
    const color = COLORS[n % COLORS.length];
    chart.append(svg('polyline', { points: s.values.map((v, i) => `${x(i)},${y(v)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }));
    s.values.forEach((v, i) => {
      if (v === 0) return;
      const dot = svg('circle', { cx: x(i), cy: y(v), r: 3, fill: color, class: 'point', 'data-value': v });
      dot.append(svg('title', {}, `${s.name} · ${new Date(buckets[i]).toISOString().slice(0, hourly ? 13 : 10).replace('T', ' ')}: ${v}${unit}`));
      chart.append(dot);
    });
    const lx = L + (n % 4) * 200, ly = H + 8 + 20 * Math.floor(n / 4);
    chart.append(svg('rect', { x: lx, y: ly, width: 10, height: 10, fill: color }));
    chart.append(svg('text', { x: lx + 14, y: ly + 9, 'font-size': 12, fill: '#1d232a' }, s.name));
  });
  if (series.every((s) => s.values.every((v) => v === 0))) {
    chart.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', 'font-size': 13, fill: '#57606a' }, 'nothing recorded in this range'));
  }
  return chart;
}

function bucketsBetween(from, to, step) {
  const out = [];
  for (let t = Date.parse(from); t < Date.parse(to); t += step) out.push(t);
  return out;
}

// --- usage -------------------------------------------------------------------

async function loadUsage() {
  const hourly = $('usage-range').value !== '30d';
  const usage = await api('GET', `usage?granularity=${hourly ? 'hour' : 'day'}`);
  const buckets = bucketsBetween(usage.from, usage.to, hourly ? HOUR_MS : 24 * HOUR_MS);
  const index = new Map(buckets.map((b, i) => [b, i]));
  const perClient = new Map();
  for (const r of usage.data) {
    const name = r.client_id ?? '(admin keys)';
    if (!perClient.has(name)) perClient.set(name, buckets.map(() => 0));
    const i = index.get(Date.parse(r.bucket));
    if (i !== undefined) perClient.get(name)[i] += r.events_accepted;
  }
  const events = [...perClient].map(([name, values]) => ({ name, values }));
  $('usage-events-chart').replaceChildren(lineChart(buckets, events.length ? events : [{ name: 'no clients', values: buckets.map(() => 0) }], { unit: ' events', hourly }));
  const failures = buckets.map(() => 0);
  for (const r of usage.auth_failures ?? []) {
    const i = index.get(Date.parse(r.bucket));
    if (i !== undefined) failures[i] += r.failures;
  }
  $('usage-auth-chart').replaceChildren(lineChart(buckets, [{ name: 'failed authentications', values: failures }], { hourly }));
  for (const id of ['usage-events-chart', 'usage-auth-chart']) $(id).setAttribute('aria-busy', 'false');
}

$('usage-range').addEventListener('change', () => loadUsage().catch((err) => flash(err.message, true)));

// --- alerts ------------------------------------------------------------------

async function loadAlerts() {
  const status = $('alert-filter').value;
  const { data } = await api('GET', `alerts?status=${encodeURIComponent(status)}&limit=100`);
  $('alert-rows').replaceChildren(
    ...data.map((a) => {
      const tr = row([
        when(a.raised_at),
        el('span', a.severity, `severity-${a.severity}`),
        a.rule,
        a.summary,
        a.status === 'open' ? el('span', 'open', 'status-open') : `acknowledged by ${a.acknowledged_by}`,
        el('span', JSON.stringify(a.evidence)),
        a.status === 'open' ? ackButton(a) : '',
      ]);
      tr.children[5].className = 'details';
      tr.dataset.alertId = a.id;
      return tr;
    }),
  );
  $('alerts-empty').hidden = data.length > 0;
}

function ackButton(a) {
  const b = el('button', 'Acknowledge');
  b.type = 'button';
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await api('POST', `alerts/${encodeURIComponent(a.id)}/ack`);
      flash(`Alert acknowledged: ${a.summary}`);
      await loadAlerts();
    } catch (err) {
      b.disabled = false;
      flash(err.message, true);
    }
  });
  return b;
}

$('alert-filter').addEventListener('change', () => loadAlerts().catch((err) => flash(err.message, true)));
