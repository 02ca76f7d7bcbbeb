import type { Command } from 'commander';
import { acknowledgeAlert, listAlerts } from '@central-logger/alerts';
import { recordAudit } from '../../store/audit.js';
import { asSql } from '../../store/db.js';
import { CliError } from '../errors.js';
import type { Run } from '../context.js';
import { table, when } from '../table.js';

/** `central-logger alerts list|ack`: what the dashboard's Alerts page shows and does. */
export function registerAlerts(program: Command, run: Run): void {
  const alerts = program.command('alerts').description('alerts raised by the worker’s rules');

  alerts
    .command('list')
    .description('list alerts, newest first')
    .option('--status <status>', 'open, acknowledged or all', 'open')
    .option('--limit <n>', 'most alerts to show', '50')
    .option('--json', 'one JSON object per line, with the evidence')
    .action((opts: { status: string; limit: string; json?: boolean }) =>
      run(async (ctx) => {
        if (!['open', 'acknowledged', 'all'].includes(opts.status)) throw new CliError(`--status must be open, acknowledged or all, not "${opts.status}"`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit must be an integer from 1 to 1000, not "${opts.limit}"`);
        const rows = await listAlerts(ctx.sql, { status: opts.status as 'open', limit });
        if (opts.json) {
          for (const a of rows) ctx.out(JSON.stringify(a));
          return;
        }
        if (rows.length === 0) return ctx.out(`No ${opts.status === 'all' ? '' : `${opts.status} `}alerts`);
        ctx.out(table(['ID', 'RAISED', 'SEVERITY', 'RULE', 'SUMMARY', 'ACKNOWLEDGED'], rows.map((a) => [a.id, when(a.raisedAt), a.severity, a.rule, a.summary, a.acknowledgedAt ? `${when(a.acknowledgedAt)} by ${a.acknowledgedBy}` : '-'])));
      }),
    );

  alerts
    .command('ack <id>')
    .description('acknowledge an alert (recorded in the audit log)')
    .action((id: string) =>
      run(async (ctx) => {
        const { actor } = ctx;
        const done = await ctx.sql.begin(async (tx) => {
          const r = await acknowledgeAlert(asSql(tx), id, actor);
          if (r?.changed) await recordAudit(tx, { actor, action: 'alert.ack', target: `alert:${id}`, details: { rule: r.alert.rule, subject: r.alert.subject }, ip: null });
          return r;
        });
        if (!done) throw new CliError(`No alert "${id}"`);
        ctx.out(done.changed ? `✓ Alert ${id} acknowledged` : `Alert ${id} was already acknowledged by ${done.alert.acknowledgedBy}`);
      }, { writes: true }),
    );
}
