// Usage charts and alerts for the dashboard (uses app.js's and charts.js's helpers).
'use strict';

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
  const events = [...perClient].map(([name, rows]) => ({ name, href: name === '(admin keys)' ? undefined : clientHref(name), values: alignTo(buckets, rows, (r) => r.events_accepted) }));
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
  if (typeof loadAuthFailureSplit === 'function') await loadAuthFailureSplit(usage.from, usage.to);
}

for (const id of ['usage-range', 'usage-view']) $(id).addEventListener('change', () => loadUsage().catch((err) => flash(err.message, true)));

// --- alerts ------------------------------------------------------------------

/** Evidence fields that name something the dashboard has a page for. */
function evidenceValue(key, value) {
  if (value === null || value === undefined) return el('span', '-', 'muted');
  if (Array.isArray(value)) {
    if (value.length === 0) return el('span', 'none', 'muted');
    const list = el('ul', undefined, 'plain');
    for (const v of value) {
      const li = el('li');
      li.append(typeof v === 'object' && v !== null ? evidenceObject(v) : evidenceValue(key.replace(/s$/, ''), v));
      list.append(li);
    }
    return list;
  }
  if (typeof value === 'object') return evidenceObject(value);
  if (typeof value === 'number') return el('span', fmt(value), 'num');
  if (/(_at|^hour|^day)$/.test(key) && !Number.isNaN(Date.parse(value))) return el('span', when(value));
  if (key === 'key_prefix') return link(value, '#keys', 'id');
  if (key === 'client' || key === 'clients' || key === 'client_id') return link(value, clientHref(value), 'id');
  return el('span', String(value), 'wrap');
}

function evidenceObject(obj) {
  return Object.entries(obj).map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v}`).join(', ');
}

/** An alert's evidence as a two-column table: what was counted, and over which window. */
function evidenceTable(a) {
  const table = el('table', undefined, 'evidence');
  const body = el('tbody');
  const entries = Object.entries(a.evidence ?? {});
  if (a.evidence?.window_ms) entries.push(['window', `${Math.round(a.evidence.window_ms / 60000)} min from ${when(a.window_start)}`]);
  for (const [k, v] of entries) {
    if (k === 'window_ms') continue;
    const tr = el('tr');
    const th = el('th', k.replace(/_/g, ' '));
    th.scope = 'row';
    const td = el('td');
    td.append(evidenceValue(k, v));
    tr.append(th, td);
    body.append(tr);
  }
  table.append(body);
  return table;
}

async function loadAlerts() {
  const status = $('alert-filter').value;
  const { data } = await api('GET', `alerts?status=${encodeURIComponent(status)}&limit=100`);
  $('alert-list').replaceChildren(...data.map(alertCard));
  $('alerts-empty').hidden = data.length > 0;
}

function alertCard(a) {
  const card = el('article', undefined, `alert severity-${a.severity}`);
  card.dataset.alertId = a.id;
  const head = el('header');
  head.append(el('span', a.severity, `severity-${a.severity} pill`), el('code', a.rule), el('span', when(a.raised_at), 'muted'));
  head.append(a.status === 'open' ? el('span', 'open', 'status-open') : el('span', `acknowledged by ${a.acknowledged_by} ${when(a.acknowledged_at)}`, 'muted'));
  const summary = el('p', a.summary, 'summary');
  card.append(head, summary, evidenceTable(a));
  if (a.status === 'open') card.append(ackButton(a));
  return card;
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

Object.assign(LOADERS, { usage: () => loadUsage(), alerts: () => loadAlerts() });
