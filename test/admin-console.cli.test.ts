// What the console's new admin endpoints show, through bin/central-logger:
// `client show`, `alerts list --severity/--rule`, `alerts count`, `alerts ack --note`.
// Each call starts a process (seconds each on a loaded machine): the timeouts are generous.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAlert } from '@central-logger/alerts';
import { insertLogs, type LogRow } from '@central-logger/db';
import { centralLogger } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, REDIS_URL } from './support/stack.js';

let db: TestDatabase;
const prefix = `{t${randomBytes(5).toString('hex')}}`;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const cli = (...args: string[]) =>
  centralLogger(args, { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent', RATE_TENANT_EVENTS_PER_DAY: '5000' });

describe('central-logger client show', () => {
  it('prints retention, limits, quota and the error rate by event time; JSON as the admin API', { timeout: 180_000 }, async () => {
    const t = await createTenant(db.sql, 'agent', 'show');
    const row = (i: number, status: string): LogRow =>
      ({
        client_id: t.clientId,
        event_id: `e${i}`,
        received_at: new Date().toISOString(),
        executed_at: new Date(Date.now() - 1000).toISOString(),
        environment: 'x',
        status,
        workflow: 'etl',
        run_id: null,
        level: null,
        message: null,
        duration_ms: null,
        metadata: {},
      }) as LogRow;
    await insertLogs(db.sql, [row(1, 'SUCCESS'), row(2, 'FAILURE'), row(3, 'SUCCESS'), row(4, 'SUCCESS')]);
    const out = await cli('client', 'show', t.clientId);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('keeps logs 30 days');
    expect(out.stdout).toContain('0 of 5000 events');
    expect(out.stdout).toContain('1 failed of 4 events, error rate 25.0%');
    expect(out.stdout).toMatch(/etl\s+4\s+1/);
    const json = JSON.parse((await cli('client', 'show', t.clientId, '--json')).stdout);
    expect(json).toMatchObject({
      client_id: t.clientId,
      retention_days: 30,
      events: { examined: 4, failed: 1 },
      limits: { effective: { events_per_day: 5000 } },
    });
  });

  it('fails clearly for an unknown client or a bad window', { timeout: 180_000 }, async () => {
    const missing = await cli('client', 'show', 'nobody');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No client "nobody"');
    expect((await cli('client', 'show', 'nobody', '--hours', '0')).stderr).toContain('--hours must be an integer from 1 to 744');
  });
});

describe('central-logger alerts: filters, count, notes', () => {
  it('filters by severity and rule, counts open alerts, and acknowledges with a note (audited)', { timeout: 180_000 }, async () => {
    const win = new Date(Date.UTC(2026, 0, 1));
    const crit = (
      await upsertAlert(db.sql, { rule: 'dead_letters', subject: 'c1', windowStart: win, severity: 'critical', summary: 'dead letters of c1', evidence: {} })
    ).alert;
    await upsertAlert(db.sql, { rule: 'quota', subject: 'c2:80', windowStart: win, severity: 'warning', summary: 'quota of c2', evidence: {} });
    const critical = await cli('alerts', 'list', '--severity', 'critical');
    expect(critical.stdout).toContain(crit.id);
    expect(critical.stdout).not.toContain('quota of c2');
    expect(critical.stdout).toContain('not_queued');
    expect((await cli('alerts', 'list', '--rule', 'quota')).stdout).not.toContain(crit.id);
    expect((await cli('alerts', 'count')).stdout).toContain('2 open alert(s): 1 critical, 1 warning, 0 info');

    const ack = await cli('alerts', 'ack', crit.id, '--note', 'disk was full; replayed');
    expect(ack.code, ack.stderr).toBe(0);
    const [stored] = await db.sql`select acknowledged_note from alerts where id = ${crit.id}`;
    expect(stored!.acknowledged_note).toBe('disk was full; replayed');
    const [audit] = await db.sql`select details from admin_audit where target = ${`alert:${crit.id}`}`;
    expect(audit!.details).toMatchObject({ note: 'disk was full; replayed' });
    expect((await cli('alerts', 'list', '--status', 'all')).stdout).toContain('disk was full; replayed');
    const json = (await cli('alerts', 'list', '--status', 'acknowledged', '--json')).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(json[0]).toMatchObject({ id: crit.id, acknowledged_note: 'disk was full; replayed', webhook: { state: 'not_queued' } });

    expect((await cli('alerts', 'list', '--severity', 'urgent')).code).toBe(1);
    expect((await cli('alerts', 'list', '--rule', 'nope')).code).toBe(1);
    expect((await cli('alerts', 'ack', crit.id, '--note', 'x'.repeat(1001))).code).toBe(1);
  });
});

describe('central-logger system and dead-letters show', () => {
  it('prints the System page figures, shows a dead letter with its event, and audits its replay', { timeout: 180_000 }, async () => {
    const t = await createTenant(db.sql, 'agent', 'sys');
    const payload = {
      client_id: t.clientId,
      event_id: 'dl-cli',
      received_at: new Date().toISOString(),
      executed_at: new Date().toISOString(),
      environment: 'prod',
      status: 'OK',
      workflow: null,
      run_id: null,
      level: null,
      message: 'kept',
      duration_ms: null,
      metadata: {},
    };
    const [r] =
      await db.sql`insert into dead_letter_events (client_id, event_id, received_at, payload, error_message) values (${t.clientId}, 'dl-cli', now(), ${JSON.stringify(payload)}, 'refused') returning id`;
    const id = String(r!.id);

    const sys = JSON.parse((await cli('system', '--json')).stdout);
    expect(sys.queues.map((q: { name: string }) => q.name)).toEqual(['logs', 'logs-bulk']);
    expect(sys.dead_letters.count).toBe(1);
    expect(sys.redis_memory.used_bytes).toBeGreaterThan(0);
    expect(sys.partitions.at(-1).name).toBe('workflow_logs_default');

    const show = await cli('dead-letters', 'show', id);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`Dead letter ${id} of ${t.clientId}, event dl-cli`);
    expect(show.stdout).toContain('"message": "kept"');

    expect((await cli('dead-letters', 'replay', id)).code).toBe(0);
    const [audit] = await db.sql`select actor, target from admin_audit where action = 'dead_letter.replay'`;
    expect(audit!.target).toBe(`dead_letter:${id}`);
    expect(audit!.actor).toMatch(/^cli:/);
  });
});

describe('central-logger auth-failures', () => {
  it('prints failed authentications by address and by key prefix', { timeout: 120_000 }, async () => {
    const t = await createTenant(db.sql, 'agent', 'afcli');
    await db.sql`insert into auth_failures (occurred_at, address, key_prefix, reason) values (now(), '203.0.113.44', ${t.record.prefix}, 'wrong_secret'), (now(), '203.0.113.44', ${t.record.prefix}, 'wrong_secret')`;
    const out = await cli('auth-failures', '--since', '1h');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/203\.0\.113\.44\s+2\s/);
    expect(out.stdout).toContain(`${t.record.prefix}  ${t.clientId}`);
  });
});
