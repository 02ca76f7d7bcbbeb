// Charts for the dashboard: inline SVG built with DOM calls (no library, no
// inline script or style, so the strict CSP holds). Tooltips are SVG <title>s:
// each bucket has a hover band that names every series' value in it.

const SVG_NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#1f6feb', '#d1242f', '#2da44e', '#bf8700', '#8250df', '#0a7f86', '#cf222e', '#57606a'];
const HOUR_MS = 3600000;
/** At a phone's width the wide charts are drawn 440 units wide, as the small ones, so their text stays readable scaled down. */
const NARROW = window.matchMedia('(max-width: 700px)');

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** Whole-number axis ticks from 0 with a 1-2-5 step: never "1, 1, 0". */
function niceTicks(max) {
  if (!(max > 0)) return [0];
  const rough = max / 4;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(
    1,
    [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= rough),
  );
  const ticks = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}

/** 0, then powers of ten up to the first at or above max, for a log scale. */
function logTicks(max) {
  if (!(max > 0)) return [0];
  const ticks = [0, 1];
  while (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] * 10);
  return ticks;
}

/** Byte axis ticks: whole numbers of the largest binary unit under max (0, 1 MB, 2 MB…), never 976.6 KB. */
function byteTicks(max) {
  if (!(max > 0)) return [0];
  const unit = 1024 ** Math.max(0, Math.min(4, Math.floor(Math.log(max) / Math.log(1024))));
  return niceTicks(max / unit).map((t) => t * unit);
}

/** An axis tick in bytes, without a needless ".0" (2 MB, 512 KB). */
function byteAxis(v) {
  return bytes(v).replace('.0 ', ' ');
}

/** Short axis numbers: 1.2k, 3M. */
function short(v) {
  if (v >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(v);
}

function bucketLabel(ms, hourly) {
  const d = new Date(ms).toISOString();
  return hourly ? `${d.slice(5, 10)} ${d.slice(11, 13)}h` : d.slice(5, 10);
}

const sum = (values) => values.reduce((n, v) => n + v, 0);

/**
 * A line chart: one line per series over the same buckets, a y axis from 0,
 * dates under the x axis, a hover band per bucket with every series' value,
 * and a legend with each series' total. `buckets` are epoch ms; each series
 * has `name` and `values` aligned to them. Options: `unit`, `hourly`,
 * `log` (log scale, so small series stay visible beside big ones), `height`,
 * `legend` (default true), `format` (a value's text), `axis` (an axis tick's text),
 * `ticks` (max → the axis ticks; default whole 1-2-5 steps).
 */
function lineChart(
  buckets,
  series,
  {
    unit = '',
    hourly = true,
    log = false,
    height = 240,
    width = NARROW.matches ? 440 : 900,
    legend = true,
    format = (v) => Number(v).toLocaleString('en-US'),
    axis = short,
    ticks: tickRule = niceTicks,
  } = {},
) {
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const ticks = log ? logTicks(max) : tickRule(max);
  // the left margin fits the longest tick label (about 6.5 units a character at font size 11), so none is clipped
  const W = width,
    L = Math.max(40, 12 + Math.ceil(6.5 * Math.max(...ticks.map((v) => String(axis(v)).length)))),
    H = height,
    R = 12,
    T = 12,
    B = 30;
  const top = ticks[ticks.length - 1] || 1;
  const scale = log ? (v) => Math.log10(1 + v) / Math.log10(1 + top) : (v) => v / top;
  const x = (i) => L + (buckets.length <= 1 ? 0 : (i * (W - L - R)) / (buckets.length - 1));
  const y = (v) => T + (H - T - B) * (1 - scale(v));
  // legend entries 210 units apart: four a line at full width, fewer on a narrow chart
  const perLine = Math.max(1, Math.floor((W - L) / 210));
  const rows = legend ? Math.ceil(series.length / perLine) : 0;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H + 20 * rows}`, role: 'img', class: 'chart' });
  for (const v of ticks) {
    chart.append(svg('line', { x1: L, y1: y(v), x2: W - R, y2: y(v), stroke: v === 0 ? '#8c959f' : '#eaeef2' }));
    chart.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, axis(v)));
  }
  chart.append(svg('line', { x1: L, y1: T, x2: L, y2: y(0), stroke: '#8c959f' }));
  // about one date per 110 units of width, so they never overlap
  const labelEvery = Math.max(1, Math.ceil(buckets.length / Math.max(2, Math.floor((W - L) / 110))));
  buckets.forEach((b, i) => {
    if (i % labelEvery === 0)
      chart.append(svg('text', { x: x(i), y: y(0) + 16, 'text-anchor': 'middle', 'font-size': 11, fill: '#57606a' }, bucketLabel(b, hourly)));
  });
  series.forEach((s, n) => {
    const color = s.color ?? COLORS[n % COLORS.length];
    chart.append(svg('polyline', { points: s.values.map((v, i) => `${x(i)},${y(v)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }));
    s.values.forEach((v, i) => {
      if (v !== 0) chart.append(svg('circle', { cx: x(i), cy: y(v), r: 3, fill: color, class: 'point', 'data-value': v }));
    });
    if (legend) {
      const lx = L + (n % perLine) * 210,
        ly = H + 8 + 20 * Math.floor(n / perLine);
      chart.append(svg('rect', { x: lx, y: ly, width: 10, height: 10, fill: color }));
      // four legend entries share a line; one alone on its line may be longer, as far as the chart is wide
      const room = series.length === 1 || perLine === 1 ? Math.min(60, Math.floor((W - L - 14) / 7.5) - 10) : 18;
      const name = s.name.length > room ? `${s.name.slice(0, room - 1)}…` : s.name;
      chart.append(svg('text', { x: lx + 14, y: ly + 9, 'font-size': 12, fill: '#1d232a' }, `${name}: ${format(sum(s.values))}`));
    }
  });
  // hover bands last, on top: one per bucket, its title lists every series
  const band = buckets.length <= 1 ? W - L - R : (W - L - R) / (buckets.length - 1);
  buckets.forEach((b, i) => {
    const r = svg('rect', { x: x(i) - band / 2, y: T, width: band, height: H - T - B, class: 'hover' });
    const lines = series.map((s) => `${s.name}: ${format(s.values[i])}${unit}`);
    r.append(svg('title', {}, `${bucketLabel(b, hourly)}${hourly ? '' : ' (UTC day)'}\n${lines.join('\n')}`));
    chart.append(r);
  });
  if (max === 0) chart.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', 'font-size': 13, fill: '#57606a' }, 'nothing recorded in this range'));
  return chart;
}

/**
 * Small multiples: one small chart per series, each on its own scale (so a
 * small tenant's shape is as visible as a big one's), titled with its total,
 * biggest first.
 */
function smallMultiples(buckets, series, options = {}) {
  const box = el('div', undefined, 'multiples');
  const format = options.format ?? ((v) => Number(v).toLocaleString('en-US'));
  for (const s of [...series].sort((a, b) => sum(b.values) - sum(a.values))) {
    const cell = el('figure', undefined, 'multiple');
    const caption = el('figcaption');
    caption.append(s.href ? link(s.name, s.href, 'id') : el('span', s.name, 'id'), el('span', ` ${format(sum(s.values))}${options.unit ?? ''}`, 'total'));
    cell.append(caption, lineChart(buckets, [s], { ...options, height: 170, width: 440, legend: false }));
    box.append(cell);
  }
  return box;
}

function bucketsBetween(from, to, step) {
  const out = [];
  for (let t = Date.parse(from); t < Date.parse(to); t += step) out.push(t);
  return out;
}

/** Values per bucket of `rows` (each with an ISO `bucket`), summed by `pick`. */
function alignTo(buckets, rows, pick) {
  const index = new Map(buckets.map((b, i) => [b, i]));
  const values = buckets.map(() => 0);
  for (const r of rows) {
    const i = index.get(Date.parse(r.bucket));
    if (i !== undefined) values[i] += pick(r);
  }
  return values;
}
