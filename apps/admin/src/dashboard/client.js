// The client page (#client/<id>): traffic over time (per key too), error rate
// and top workflows, quota, keys, retention and limits, activation.
// Uses app.js's and charts.js's helpers.

let shownClient = null;
/** The retention and overrides the form was filled with: only what the user changed is sent (and audited). */
let loadedLimits = null;

const LIMIT_FIELDS = [
  'requests_per_second',
  'request_burst',
  'events_per_second',
  'event_burst',
  'tenant_events_per_second',
  'tenant_event_burst',
  'events_per_day',
];

async function loadClient(id) {
  shownClient = id;
  const path = encodeURIComponent(id);
  const [client, summary, keys] = await Promise.all([
    api('GET', `clients/${path}`),
    api('GET', `clients/${path}/summary?hours=24`),
    api('GET', `keys?client=${path}`),
  ]);
  if (shownClient !== id) return; // another client was opened meanwhile
  showClientHeader(client);
  showClientFacts(client, summary);
  showWorkflows(summary.events);
  showClientKeys(keys.data);
  fillLimitsForm(summary);
  await loadClientUsage(id, keys.data);
}

function showClientHeader(c) {
  $('client-crumb').textContent = c.id;
  $('client-title').textContent = c.name === c.id ? c.id : `${c.name} (${c.id})`;
  $('client-status').replaceChildren(el('span', c.status, `status-${c.status} pill`));
  const reload = () => loadClient(c.id);
  $('client-status-action').replaceChildren(
    c.status === 'active'
      ? twoStepButton('Deactivate', 'Confirm deactivate? Its keys stop within a second', () => setClientStatus(c.id, 'deactivate', reload))
      : twoStepButton('Activate', 'Confirm activate?', () => setClientStatus(c.id, 'activate', reload)),
  );
}

function showClientFacts(c, s) {
  const facts = [
    ['Created', when(c.created_at)],
    ['Last heartbeat', when(c.last_heartbeat_at)],
    ['Keys', `${c.keys.active} active of ${c.keys.total}`],
    ['Accepted, last 24\u00a0h', fmt(c.accepted_last_24h)],
    ['Keeps logs for', `${s.retention_days} days`],
  ];
  if (c.deactivated_at) facts.push(['Deactivated', when(c.deactivated_at)]);
  $('client-facts').replaceChildren(
    ...facts.map(([k, v]) => {
      const pair = el('div');
      pair.append(el('dt', k), el('dd', v));
      return pair;
    }),
  );
  const q = s.quota;
  const p = $('client-quota');
  if (q.events_used === null) {
    p.replaceChildren(`Quota today: unknown (Redis could not be read) of ${fmt(q.events_per_day)} events.`);
    return;
  }
  const meter = Object.assign(document.createElement('meter'), {
    min: 0,
    max: q.events_per_day,
    low: q.events_per_day * 0.8,
    high: q.events_per_day * 0.99,
    optimum: 0,
    value: Math.min(q.events_used, q.events_per_day),
  });
  const share = q.events_used / q.events_per_day;
  p.replaceChildren(
    `Quota today (${q.day}, UTC): `,
    meter,
    ` ${fmt(q.events_used)} of ${fmt(q.events_per_day)} events (${(share * 100).toFixed(share < 0.1 ? 2 : 1)}%)`,
  );
}

function percent(n, of) {
  return of ? `${((n / of) * 100).toFixed(1)}%` : '-';
}

function showWorkflows(e) {
  const sample = e.sampled ? ` (the newest ${fmt(e.examined)} of them)` : '';
  $('client-error-rate').textContent =
    e.examined === 0
      ? 'No stored events ran in the last 24 hours.'
      : `Error rate ${percent(e.failed, e.examined)}: ${fmt(e.failed)} failed of ${fmt(e.examined)} events${sample}. Failed means status FAILURE, FAILED, ERROR or TIMEOUT, or level error or fatal.`;
  $('client-workflows').replaceChildren(
    ...e.top_workflows.map((w) =>
      row([
        w.workflow === null ? el('span', '(no workflow)', 'muted') : { value: w.workflow, className: 'wrap' },
        num(w.events),
        num(w.failed),
        { value: percent(w.failed, w.events), className: 'num' },
      ]),
    ),
  );
  $('client-workflows').closest('table').hidden = e.top_workflows.length === 0;
}

function showClientKeys(keys) {
  const reload = () => loadClient(shownClient);
  $('client-keys').replaceChildren(
    ...keys.map((k) =>
      row([
        el('code', k.prefix),
        { value: k.name, className: 'wrap' },
        k.role,
        keyStatusCell(k),
        when(k.last_used_at),
        k.last_used_ip,
        expiryCell(k, reload),
        keyActions(k, reload),
      ]),
    ),
  );
  if (keys.length === 0) $('client-keys').replaceChildren(row([{ value: 'No keys yet: issue one above.', className: 'muted' }, '', '', '', '', '', '', '']));
}

/** The expiry, and for a working key a menu that changes it. */
function expiryCell(k, reload) {
  const cell = el('span', k.expires_at ? when(k.expires_at) : 'never');
  if (k.status !== 'active') return cell;
  const select = el('select', undefined, 'small');
  select.setAttribute('aria-label', `Change the expiry of ${k.prefix}`);
  for (const [value, label] of [
    ['', 'change…'],
    ['never', 'never expires'],
    ['30', 'in 30 days'],
    ['90', 'in 90 days'],
    ['365', 'in a year'],
  ])
    select.append(Object.assign(el('option', label), { value }));
  select.addEventListener('change', async () => {
    if (!select.value) return;
    const expires_at = select.value === 'never' ? null : new Date(Date.now() + Number(select.value) * 86400000).toISOString();
    try {
      await api('PATCH', `keys/${encodeURIComponent(k.id)}`, { expires_at });
      flash(`Key ${k.prefix} ${expires_at ? `expires ${when(expires_at)}` : 'never expires'}.`);
      await reload();
    } catch (err) {
      flash(err.message, true);
    }
  });
  cell.append(' ', select);
  return cell;
}

function fillLimitsForm(s) {
  loadedLimits = { retention_days: s.retention_days, ...s.limits.overrides };
  const form = $('client-limits-form');
  form.retention_days.value = s.retention_days;
  for (const f of LIMIT_FIELDS) {
    form[f].value = s.limits.overrides[f] ?? '';
    form[f].placeholder = `default ${fmt(s.limits.defaults[f])}`;
  }
}

$('client-limits-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = {};
  const limits = {};
  for (const f of LIMIT_FIELDS) {
    const value = form[f].value === '' ? null : Number(form[f].value);
    if (value !== loadedLimits[f]) limits[f] = value;
  }
  if (Object.keys(limits).length) body.limits = limits;
  if (Number(form.retention_days.value) !== loadedLimits.retention_days) body.retention_days = Number(form.retention_days.value);
  if (Object.keys(body).length === 0) return flash('Nothing changed.');
  try {
    await api('PATCH', `clients/${encodeURIComponent(shownClient)}`, body);
    flash(`Retention and limits of ${shownClient} saved.`);
    await loadClient(shownClient);
  } catch (err) {
    flash(err.message, true);
  }
});

$('client-key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = { name: form.name.value.trim(), role: form.role.value, client_id: shownClient };
  if (form.expires_in.value) body.expires_in = form.expires_in.value;
  try {
    const created = await api('POST', 'keys', body);
    showNewKey(`“${created.name}” (${created.prefix})`, created.key);
    form.name.value = '';
    const keys = await api('GET', `keys?client=${encodeURIComponent(shownClient)}`);
    showClientKeys(keys.data);
  } catch (err) {
    flash(err.message, true);
  }
});

const rejectedOf = (r) => r.rate_limited + Object.values(r.rejected).reduce((n, v) => n + v, 0);

/** What the client page charts, as a whole and per key. */
const TRAFFIC = {
  events: { name: 'Events accepted', pick: (r) => r.events_accepted, unit: ' events' },
  bytes: { name: 'Bytes', pick: (r) => r.bytes, format: bytes, axis: byteAxis, ticks: byteTicks },
  requests: { name: 'Requests', pick: (r) => r.requests, unit: ' requests' },
  rejected: { name: 'Rejected (429s and refused events)', pick: rejectedOf, color: COLORS[1], unit: ' rejected' },
};

/** The last usage answer of the client page, so that changing the per-key metric needs no request. */
let shownUsage = null;

function chartOptions(m, hourly) {
  return { hourly, format: m.format ?? fmt, ...(m.axis ? { axis: m.axis, ticks: m.ticks } : {}) };
}

/** The client's usage by arrival (GET usage?client&by=key): its totals over time, a table per key, and each key over time. */
async function loadClientUsage(id, keys) {
  const hourly = $('client-range').value !== '30d';
  const usage = await api('GET', `usage?client=${encodeURIComponent(id)}&by=key&granularity=${hourly ? 'hour' : 'day'}`);
  if (shownClient !== id) return;
  const buckets = bucketsBetween(usage.from, usage.to, hourly ? HOUR_MS : 24 * HOUR_MS);
  shownUsage = { buckets, hourly, rows: usage.data, prefixOf: new Map(keys.map((k) => [k.id, k.prefix])) };
  $('client-charts').replaceChildren(
    ...Object.values(TRAFFIC).map((m) => {
      const cell = el('figure', undefined, 'multiple');
      const values = alignTo(buckets, usage.data, m.pick);
      cell.append(
        el('figcaption', `${m.name}: ${(m.format ?? fmt)(sum(values))}`),
        lineChart(buckets, [{ name: m.name, values, color: m.color }], { ...chartOptions(m, hourly), height: 170, width: 440, legend: false }),
      );
      return cell;
    }),
  );
  const perKey = new Map();
  for (const r of usage.data) {
    const t = perKey.get(r.key_id) ?? { requests: 0, events: 0, bytes: 0, rejected: 0, auth: 0 };
    t.requests += r.requests;
    t.events += r.events_accepted;
    t.bytes += r.bytes;
    t.rejected += rejectedOf(r);
    t.auth += r.auth_failures;
    perKey.set(r.key_id, t);
  }
  const sorted = [...perKey].sort((a, b) => b[1].events - a[1].events);
  $('client-key-usage').replaceChildren(
    ...sorted.map(([keyId, t]) =>
      row([
        el('code', shownUsage.prefixOf.get(keyId) ?? keyId),
        num(t.requests),
        num(t.events),
        { value: bytes(t.bytes), className: 'num' },
        num(t.rejected),
        num(t.auth),
      ]),
    ),
  );
  if (sorted.length === 0) $('client-key-usage').replaceChildren(row([{ value: 'No traffic in this range.', className: 'muted' }, '', '', '', '', '']));
  showKeysOverTime();
}

/**
 * One small chart per key (the busiest 8) of the metric chosen, each on its own
 * scale so a quiet key's shape shows beside a busy one's.
 */
function showKeysOverTime() {
  if (!shownUsage) return;
  const { buckets, hourly, rows, prefixOf } = shownUsage;
  const m = TRAFFIC[$('client-key-metric').value] ?? TRAFFIC.events;
  const byKey = new Map();
  for (const r of rows) byKey.set(r.key_id, [...(byKey.get(r.key_id) ?? []), r]);
  const series = [...byKey]
    .map(([keyId, keyRows]) => ({ name: prefixOf.get(keyId) ?? keyId, values: alignTo(buckets, keyRows, m.pick), color: m.color }))
    .sort((a, b) => sum(b.values) - sum(a.values))
    .slice(0, 8);
  // with no traffic the table above says so; empty charts would only repeat it
  const box = series.length ? smallMultiples(buckets, series, { ...chartOptions(m, hourly), unit: m.unit ?? '' }) : undefined;
  // two a row, the size of the client's own charts above
  box?.classList.add('two');
  $('client-key-chart').replaceChildren(...(box ? [box] : []));
}

$('client-key-metric').addEventListener('change', showKeysOverTime);

$('client-range').addEventListener('change', () => {
  if (!shownClient) return;
  api('GET', `keys?client=${encodeURIComponent(shownClient)}`)
    .then((keys) => loadClientUsage(shownClient, keys.data))
    .catch((err) => flash(err.message, true));
});

LOADERS.client = (id) => loadClient(id);
