// The System page: queues and jobs/s, failed jobs (retry), dead letters
// (inspect, replay), worker lag, Redis memory, workflow_logs partitions,
// scheduled runs. Everything from GET /admin/api/system (uses app.js's helpers).

function card(label, value, note, bad = false) {
  const c = el('div', undefined, bad ? 'card bad' : 'card');
  c.append(el('div', label, 'label'), el('div', value, 'value'));
  if (note) c.append(el('div', note, 'note'));
  return c;
}

const ms = (v) => (v === null || v === undefined ? '-' : v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`);

function scheduleCards(schedules) {
  const names = { maintenance: 'Maintenance (partitions, retention)', 'usage-rollup': 'Usage roll-up', 'alerts-evaluate': 'Alert rules' };
  return (schedules ?? []).map((r) => {
    const last = r.last ? `${r.last.ok ? 'ok' : 'FAILED'} at ${when(r.last.finished_at)}` : 'never ran';
    const every =
      r.every_ms >= 60000
        ? `every ${Math.round(r.every_ms / 60000)} min`
        : r.every_ms
          ? `every ${Math.round(r.every_ms / 1000)} s`
          : 'no schedule: is a worker running?';
    const note = [every, `last: ${last}`, r.last?.error ? `error: ${r.last.error}` : ''].filter(Boolean).join(' · ');
    return card(names[r.name] ?? r.name, r.next_at ? `next ${when(r.next_at).slice(11)}` : 'not scheduled', note, r.last ? !r.last.ok : !r.next_at);
  });
}

async function loadSystem() {
  const s = await api('GET', 'system');
  const lag = s.worker_lag;
  const mem = s.redis_memory;
  const backlog = (s.queues ?? []).reduce((n, q) => n + q.waiting + q.delayed, 0);
  const rates = (s.queues ?? []).map((q) => q.jobs_per_second).filter((r) => r !== null);
  const rate = rates.length
    ? `${rates.reduce((n, r) => n + r, 0).toFixed(2)} jobs/s stored, last 5 min`
    : 'throughput not recorded yet (no job stored since the worker started recording)';
  $('system-cards').replaceChildren(
    card('Queue backlog', s.queues ? `${fmt(backlog)} jobs` : 'unknown', s.queues ? rate : ''),
    card(
      'Worker lag, received → stored',
      lag?.events ? `p50 ${ms(lag.p50_ms)} · p99 ${ms(lag.p99_ms)}` : 'no events',
      lag
        ? `${fmt(lag.events)} event(s) stored in the last ${lag.window_minutes} min${lag.sampled ? ' (a sample)' : ''}${lag.events ? `; max ${ms(lag.max_ms)}` : ''}`
        : '',
      lag?.p99_ms > 60000,
    ),
    card(
      'Redis memory',
      mem ? bytes(mem.used_bytes) : 'unknown',
      mem
        ? mem.max_bytes
          ? `of ${bytes(mem.max_bytes)} (${(mem.ratio * 100).toFixed(1)}%), policy ${mem.policy}`
          : `no maxmemory set, policy ${mem.policy}`
        : '',
      mem?.ratio > 0.8 || (mem && mem.policy !== 'noeviction'),
    ),
    card('Failed jobs', s.failed_jobs ? fmt(s.failed_jobs.count) : 'unknown', 'jobs whose accepted events are not stored', s.failed_jobs?.count > 0),
    card('Dead letters', s.dead_letters ? fmt(s.dead_letters.count) : 'unknown', 'events Postgres refused, kept for replay', s.dead_letters?.count > 0),
    ...scheduleCards(s.schedules),
  );
  $('system-sampled').textContent = s.errors.length
    ? `Could not read: ${s.errors.map((e) => `${e.part} (${e.message})`).join('; ')}`
    : `Read ${when(new Date().toISOString())}.`;
  $('system-queues').replaceChildren(
    ...(s.queues ?? []).map((q) =>
      row([
        el('code', q.name),
        num(q.waiting),
        num(q.active),
        num(q.delayed),
        num(q.failed),
        { value: q.jobs_per_second === null ? 'not recorded' : q.jobs_per_second.toFixed(2), className: 'num' },
      ]),
    ),
  );
  const failed = s.failed_jobs?.newest ?? [];
  $('system-failed').replaceChildren(
    ...failed.map((j) =>
      row([
        el('code', j.id),
        when(j.failed_at),
        num(j.attempts),
        num(j.events),
        { value: j.clients.join(', ') || '-', className: 'wrap' },
        { value: clamped(j.reason), className: 'wrap' },
      ]),
    ),
  );
  $('system-failed-empty').hidden = failed.length > 0;
  $('system-retry').hidden = !(s.failed_jobs?.count > 0);
  const dead = s.dead_letters?.newest ?? [];
  $('system-dead').replaceChildren(...dead.map(deadLetterRow));
  $('system-dead-empty').hidden = dead.length > 0;
  const parts = s.partitions ?? [];
  const total = row([
    el('strong', `${parts.length} partitions`),
    // unknown (-) while no partition has been analysed, rather than a total of 0
    num(parts.some((p) => p.rows_estimate !== null) ? parts.reduce((n, p) => n + (p.rows_estimate ?? 0), 0) : null),
    { value: bytes(parts.reduce((n, p) => n + p.bytes, 0)), className: 'num' },
  ]);
  $('system-partitions').replaceChildren(
    ...parts.map((p) => row([el('code', p.name), num(p.rows_estimate), { value: bytes(p.bytes), className: 'num' }])),
    total,
  );
}

function deadLetterRow(d) {
  const actions = el('span', undefined, 'actions');
  const inspect = el('button', 'Inspect');
  inspect.type = 'button';
  inspect.addEventListener('click', async () => {
    try {
      const full = await api('GET', `dead-letters/${d.id}`);
      const pre = $('system-dead-payload');
      pre.textContent = `Dead letter ${full.id} of ${full.client_id}, event ${full.event_id}\n${full.error_code ?? ''} ${full.error_message}\n\n${JSON.stringify(full.event, null, 2)}`;
      pre.hidden = false;
    } catch (err) {
      flash(err.message, true);
    }
  });
  actions.append(
    inspect,
    twoStepButton('Replay', 'Confirm replay?', async () => {
      const r = await api('POST', `dead-letters/${d.id}/replay`);
      flash(`Event ${r.event_id} of ${r.client_id} stored.`);
      $('system-dead-payload').hidden = true;
      await loadSystem();
    }),
  );
  return row([
    num(d.id),
    when(d.failed_at),
    { value: link(d.client_id, clientHref(d.client_id), 'id'), className: 'wrap' },
    { value: clamped(d.event_id), className: 'wrap' },
    { value: clamped(`${d.error_code ?? ''} ${d.error_message}`), className: 'wrap' },
    actions,
  ]);
}

$('system-refresh').addEventListener('click', () => loadSystem().catch((err) => flash(err.message, true)));
$('system-retry').addEventListener('click', async () => {
  try {
    const { retried } = await api('POST', 'jobs/retry');
    flash(`${retried} failed job(s) back in the queue; the worker stores their events once.`);
    await loadSystem();
  } catch (err) {
    flash(err.message, true);
  }
});

LOADERS.system = () => {
  $('system-dead-payload').hidden = true;
  return loadSystem();
};
