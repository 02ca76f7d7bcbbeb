import type { Command } from 'commander';
import { acknowledgeAlert, alertJson, countOpenAlerts, listAlerts, RULES, SEVERITIES, type Rule, type Severity } from '@central-logger/alerts';
import { webhookDeliveries } from '../../store/webhook-delivery.js';
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
    .option('--severity <severity>', `only this severity: ${SEVERITIES.join(', ')}`)
    .option('--rule <rule>', 'only this rule')
    .option('--limit <n>', 'most alerts to show', '50')
    .option('--json', 'one JSON object per line (as the admin API), with the evidence and the webhook delivery')
    .action((opts: { status: string; severity?: string; rule?: string; limit: string; json?: boolean }) =>
      run(async (ctx) => {
        if (!['open', 'acknowledged', 'all'].includes(opts.status)) throw new CliError(`--status must be open, acknowledged or all, not "${opts.status}"`);
        if (opts.severity !== undefined && !(SEVERITIES as readonly string[]).includes(opts.severity))
          throw new CliError(`--severity must be one of ${SEVERITIES.join(', ')}, not "${opts.severity}"`);
        if (opts.rule !== undefined && !(RULES as readonly string[]).includes(opts.rule))
          throw new CliError(`--rule must be one of ${RULES.join(', ')}, not "${opts.rule}"`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit must be an integer from 1 to 1000, not "${opts.limit}"`);
        const rows = await listAlerts(ctx.sql, {
          status: opts.status as 'open',
          limit,
          ...(opts.severity ? { severity: opts.severity as Severity } : {}),
          ...(opts.rule ? { rule: opts.rule as Rule } : {}),
        });
        const webhooks = await webhookDeliveries(ctx.redis(), ctx.config.QUEUE_PREFIX, rows);
        if (opts.json) {
          for (const a of rows) ctx.out(JSON.stringify({ ...alertJson(a), webhook: webhooks.get(a.id) }));
          return;
        }
        if (rows.length === 0) return ctx.out(`No ${opts.status === 'all' ? '' : `${opts.status} `}alerts`);
        ctx.out(
          table(
            ['ID', 'RAISED', 'SEVERITY', 'RULE', 'SUMMARY', 'WEBHOOK', 'ACKNOWLEDGED'],
            rows.map((a) => [
              a.id,
              when(a.raisedAt),
              a.severity,
              a.rule,
              a.summary,
              webhooks.get(a.id)!.state,
              a.acknowledgedAt ? `${when(a.acknowledgedAt)} by ${a.acknowledgedBy}${a.acknowledgedNote ? `: ${a.acknowledgedNote}` : ''}` : '-',
            ]),
          ),
        );
      }),
    );

  alerts
    .command('count')
    .description('how many alerts are open, by severity')
    .action(() =>
      run(async (ctx) => {
        const { open, bySeverity } = await countOpenAlerts(ctx.sql);
        ctx.out(`${open} open alert(s): ${SEVERITIES.map((s) => `${bySeverity[s]} ${s}`).join(', ')}`);
      }),
    );

  alerts
    .command('ack <id>')
    .description('acknowledge an alert (recorded in the audit log)')
    .option('--note <text>', 'why (shown with the alert, up to 1000 characters)')
    .action((id: string, opts: { note?: string }) =>
      run(
        async (ctx) => {
          const { actor } = ctx;
          const note = opts.note?.trim() || null;
          if (note && note.length > 1000) throw new CliError('--note must be at most 1000 characters');
          if (note?.includes('\u0000')) throw new CliError('--note cannot contain NUL characters');
          const done = await ctx.sql.begin(async (tx) => {
            const r = await acknowledgeAlert(asSql(tx), id, actor, note);
            if (r?.changed)
              await recordAudit(tx, {
                actor,
                action: 'alert.ack',
                target: `alert:${id}`,
                details: { rule: r.alert.rule, subject: r.alert.subject, ...(note ? { note } : {}) },
                ip: null,
              });
            return r;
          });
          if (!done) throw new CliError(`No alert "${id}"`);
          ctx.out(done.changed ? `✓ Alert ${id} acknowledged` : `Alert ${id} was already acknowledged by ${done.alert.acknowledgedBy}`);
        },
        { writes: true },
      ),
    );
}
