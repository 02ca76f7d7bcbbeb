// Usage charts and alerts for the dashboard (uses app.js's and charts.js's helpers).

// --- usage -------------------------------------------------------------------

async function loadUsage() {
  const hourly = $('usage-range').value !== '30d';
  const view = $('usage-view').value;
  const usage = await api('GET', `usage?granularity=${hourly ? 'hour' : 'day'}`);
  const buckets = bucketsBetween(usage.from, usage.to, hourly ? HOUR_MS : 24 * HOUR_MS);
  const perClient = new Map();
  for (const r of usage.data) {
    const name = r.client_id ?? '(admin keys)';
    if (!perClient.has(name)) perClient.set(name, []);
    perClient.get(name).push(r);
  }
  const events = [...perClient].map(([name, rows]) => ({
    name,
    href: name === '(admin keys)' ? undefined : clientHref(name),
    values: alignTo(buckets, rows, (r) => r.events_accepted),
  }));
  $('usage-total').textContent = `${fmt(sum(events.map((s) => sum(s.values))))} in total`;
  const chart =
    events.length === 0
      ? lineChart(buckets, [{ name: 'no clients', values: buckets.map(() => 0) }], { hourly })
      : view === 'multiples'
        ? smallMultiples(buckets, events, { hourly, unit: ' events' })
        : lineChart(buckets, events, { unit: ' events', hourly, log: view === 'log' });
  $('usage-events-chart').replaceChildren(chart);
  const failures = alignTo(buckets, usage.auth_failures ?? [], (r) => r.failures);
  $('usage-auth-total').textContent = `${fmt(sum(failures))} in total`;
  $('usage-auth-chart').replaceChildren(lineChart(buckets, [{ name: 'failed authentications', values: failures, color: COLORS[1] }], { hourly }));
  for (const id of ['usage-events-chart', 'usage-auth-chart']) $(id).setAttribute('aria-busy', 'false');
  await loadAuthFailureSplit(usage.from, usage.to);
}

/** Failed authentications of the range by address and by key prefix: who is knocking, and on which key. */
async function loadAuthFailureSplit(from, to) {
  const r = await api('GET', `usage/auth-failures?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=20`);
  const none = (cols) => row([{ value: 'No failed authentications in this range.', className: 'muted' }, ...Array(cols - 1).fill('')]);
  $('usage-auth-addresses').replaceChildren(
    ...(r.by_address.length
      ? r.by_address.map((a) =>
          row([{ value: a.address, className: 'wrap' }, num(a.failures), when(a.last_at), { value: a.reasons.join(', '), className: 'wrap' }]),
        )
      : [none(4)]),
  );
  $('usage-auth-prefixes').replaceChildren(
    ...(r.by_key_prefix.length
      ? r.by_key_prefix.map((k) =>
          row([
            el('code', k.key_prefix),
            k.client_id ? { value: link(k.client_id, clientHref(k.client_id), 'id'), className: 'wrap' } : el('span', 'no such key', 'muted'),
            num(k.failures),
            when(k.last_at),
            { value: k.reasons.join(', '), className: 'wrap' },
          ]),
        )
      : [none(5)]),
  );
}

for (const id of ['usage-range', 'usage-view']) $(id).addEventListener('change', () => loadUsage().catch((err) => flash(err.message, true)));

// --- alerts ------------------------------------------------------------------

const RULES = [
  'auth_failures_address',
  'auth_failures_prefix',
  'dead_key_in_use',
  'new_address',
  'request_spike',
  'dormant_key_active',
  'quota',
  'dead_letters',
  'failed_jobs',
  'key_rotation_due',
];
let alertCursor = null;

/** Evidence fields that name something the dashboard has a page for become links. */
function evidenceValue(key, value, a) {
  if (value === null || value === undefined) return el('span', '-', 'muted');
  if (Array.isArray(value)) {
    if (value.length === 0) return el('span', 'none', 'muted');
    const list = el('ul', undefined, value.some((v) => v !== null && typeof v === 'object') ? 'plain' : 'inline');
    for (const v of value) {
      const li = el('li');
      li.append(v !== null && typeof v === 'object' ? evidenceObject(v) : evidenceValue(key.replace(/s$/, '').replace(/^sample_/, ''), v, a));
      list.append(li);
    }
    return list;
  }
  if (typeof value === 'object') return evidenceObject(value);
  if (typeof value === 'number') return el('span', Number.isInteger(value) ? fmt(value) : value.toFixed(2), 'num');
  if (typeof value === 'boolean') return el('span', value ? 'yes' : 'no');
  if (/(_at|^hour|^day|_seen)$/.test(key) && !Number.isNaN(Date.parse(value))) return el('span', when(value));
  if (key === 'key_prefix') return a.client_id ? link(value, clientHref(a.client_id), 'id') : el('code', value);
  if (key === 'client' || key === 'client_id') return link(value, clientHref(value), 'id');
  if (key === 'address') return link(value, '#usage', 'id');
  return el('span', String(value), 'wrap');
}

function evidenceObject(obj) {
  return el(
    'span',
    Object.entries(obj)
      .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${/_at$|_seen$/.test(k) ? when(v) : v}`)
      .join(', '),
    'wrap',
  );
}

/** What the evidence is about first, then its counts, lists and limits, then its times (first before last). */
function evidenceRank([k, v]) {
  if (['address', 'key_prefix', 'client', 'client_id', 'day', 'hour'].includes(k)) return 0;
  if (k === 'first_at') return 5;
  if (k === 'last_at') return 6;
  if (/_at$|_seen$/.test(k)) return 4;
  if (k === 'threshold' || /_days$|factor|min_/.test(k)) return 3;
  if (Array.isArray(v)) return 2;
  return 1;
}

/** An alert's evidence as a two-column table: what was counted, and over which window. */
function evidenceTable(a) {
  const table = el('table', undefined, 'evidence');
  const body = el('tbody');
  const entries = Object.entries(a.evidence ?? {})
    .filter(([k]) => k !== 'window_ms')
    .sort((x, y) => evidenceRank(x) - evidenceRank(y));
  if (a.evidence?.window_ms) entries.push(['window', `${Math.round(a.evidence.window_ms / 60000)} min, from ${when(a.window_start)}`]);
  for (const [k, v] of entries) {
    const tr = el('tr');
    const th = el('th', k.replace(/_/g, ' '));
    th.scope = 'row';
    const td = el('td');
    td.append(evidenceValue(k, v, a));
    tr.append(th, td);
    body.append(tr);
  }
  table.append(body);
  return table;
}

/** Where to look next: the client, its key, and the traffic behind the alert. */
function alertLinks(a) {
  const p = el('p', undefined, 'links');
  const add = (text, href) => {
    if (p.childNodes.length) p.append(' · ');
    p.append(link(text, href));
  };
  if (a.client_id) add(`client ${a.client_id}`, clientHref(a.client_id));
  if (a.client_id && a.key_id) add(`its keys (${a.evidence?.key_prefix ?? a.key_id})`, clientHref(a.client_id));
  if (a.client_id) add(`usage of ${a.client_id}`, clientHref(a.client_id));
  if (/^auth_failures|dead_key/.test(a.rule)) add('failed authentications by address and key', '#usage');
  if (a.rule === 'failed_jobs' || a.rule === 'dead_letters') add('System: failed jobs and dead letters', '#system');
  return p;
}

const WEBHOOK_TEXT = {
  not_queued: 'not sent (no webhook configured, or not queued yet)',
  queued: 'queued',
  running: 'sending',
  retrying: 'failed, retrying',
  delivered: 'delivered',
  failed: 'failed for good',
  expired: 'queued; outcome no longer kept',
  unknown: 'unknown (Redis unreachable)',
};

function webhookLine(w) {
  if (!w) return el('span');
  const span = el('span', `webhook: ${WEBHOOK_TEXT[w.state] ?? w.state}`, `webhook webhook-${w.state}`);
  const detail = [w.attempts ? `${w.attempts} attempt(s)` : '', w.finished_at ? when(w.finished_at) : '', w.last_error ? `last error: ${w.last_error}` : '']
    .filter(Boolean)
    .join(', ');
  if (detail) span.title = detail;
  if (w.state === 'retrying' || w.state === 'failed') span.textContent += detail ? ` (${detail})` : '';
  return span;
}

function alertQuery() {
  const q = [`status=${encodeURIComponent($('alert-filter').value)}`, 'limit=50'];
  if ($('alert-severity').value) q.push(`severity=${encodeURIComponent($('alert-severity').value)}`);
  if ($('alert-rule').value) q.push(`rule=${encodeURIComponent($('alert-rule').value)}`);
  return q.join('&');
}

async function loadAlerts(more = false) {
  if ($('alert-rule').options.length === 1) $('alert-rule').append(...RULES.map((r) => Object.assign(el('option', r), { value: r })));
  const cursor = more && alertCursor ? `&cursor=${encodeURIComponent(alertCursor)}` : '';
  const { data, next_cursor } = await api('GET', `alerts?${alertQuery()}${cursor}`);
  const cards = data.map(alertCard);
  if (more) $('alert-list').append(...cards);
  else $('alert-list').replaceChildren(...cards);
  alertCursor = next_cursor;
  $('alerts-more').hidden = !next_cursor;
  $('alerts-empty').hidden = $('alert-list').childElementCount > 0;
  refreshAlertCount();
}

function alertCard(a) {
  const card = el('article', undefined, `alert severity-${a.severity}`);
  card.dataset.alertId = a.id;
  const head = el('header');
  head.append(el('span', a.severity, `severity-${a.severity} pill`), el('code', a.rule), el('span', `raised ${when(a.raised_at)}`, 'muted'));
  head.append(a.status === 'open' ? el('span', 'open', 'status-open') : el('span', `acknowledged by ${a.acknowledged_by} ${when(a.acknowledged_at)}`, 'muted'));
  head.append(webhookLine(a.webhook));
  card.append(head, el('p', a.summary, 'summary'), evidenceTable(a), alertLinks(a));
  if (a.acknowledged_note) card.append(el('p', `Note: ${a.acknowledged_note}`, 'note'));
  if (a.status === 'open') card.append(ackForm(a));
  return card;
}

function ackForm(a) {
  const form = el('form', undefined, 'ack');
  const label = el('label', 'Note (optional)');
  const input = Object.assign(el('input'), { name: 'note', maxLength: 1000, placeholder: 'why it is fine, or what was done' });
  label.append(input);
  const b = el('button', 'Acknowledge');
  b.type = 'submit';
  form.append(label, b);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    b.disabled = true;
    try {
      await api('POST', `alerts/${encodeURIComponent(a.id)}/ack`, input.value.trim() ? { note: input.value.trim() } : {});
      flash(`Alert acknowledged: ${a.summary}`);
      await loadAlerts();
    } catch (err) {
      b.disabled = false;
      flash(err.message, true);
    }
  });
  return form;
}

/** The open-alert count beside the Alerts link. */
async function refreshAlertCount() {
  try {
    const { open, open_by_severity } = await api('GET', 'alerts/summary');
    const badge = $('open-alerts');
    badge.textContent = String(open);
    badge.title = `${open} open: ${open_by_severity.critical} critical, ${open_by_severity.warning} warning, ${open_by_severity.info} info`;
    badge.classList.toggle('calm', open_by_severity.critical === 0 && open_by_severity.warning === 0);
    badge.hidden = open === 0;
  } catch {
    // signed out, or the API is away: the next page load tries again
  }
}

setInterval(() => {
  if (!$('nav').hidden) refreshAlertCount();
}, 60000);

for (const id of ['alert-filter', 'alert-severity', 'alert-rule'])
  $(id).addEventListener('change', () => loadAlerts().catch((err) => flash(err.message, true)));
$('alerts-more').addEventListener('click', () => loadAlerts(true).catch((err) => flash(err.message, true)));

Object.assign(LOADERS, { usage: () => loadUsage(), alerts: () => loadAlerts() });

// Turning a phone, or resizing a window across 700 px, redraws the usage page's wide charts at the new
// width (only this page: it holds no form a redraw would reset). data-charts says which width is drawn.
function markChartWidth() {
  document.documentElement.dataset.charts = NARROW.matches ? 'narrow' : 'wide';
}
NARROW.addEventListener('change', () => {
  const redraw = route()[0] === 'usage' && !$('usage').hidden ? loadUsage() : Promise.resolve();
  redraw.catch((err) => flash(err.message, true)).finally(markChartWidth);
});
markChartWidth();
