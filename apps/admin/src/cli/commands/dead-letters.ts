import type { Command } from 'commander';
import { getDeadLetter, listDeadLetters, replayDeadLetter } from '@central-logger/db';
import { recordAudit } from '../../store/audit.js';
import { CliError } from '../errors.js';
import type { Run } from '../context.js';
import { table, when } from '../table.js';

/** `central-logger dead-letters list|replay`: events Postgres refused, kept by the worker. */
export function registerDeadLetters(program: Command, run: Run): void {
  const letters = program.command('dead-letters').description('accepted events Postgres refused to store (kept by the worker, alert rule dead_letters)');

  letters
    .command('list')
    .description('list dead letters, newest first')
    .option('--client <id>', "only this client's")
    .option('--limit <n>', 'most to show', '50')
    .action((opts: { client?: string; limit: string }) =>
      run(async (ctx) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit must be an integer from 1 to 1000, not "${opts.limit}"`);
        const rows = await listDeadLetters(ctx.sql, { clientId: opts.client, limit });
        if (rows.length === 0) return ctx.out('No dead letters.');
        ctx.out(
          table(
            ['ID', 'FAILED', 'CLIENT', 'EVENT ID', 'CODE', 'ERROR'],
            rows.map((r) => [String(r.id), when(r.failedAt), r.clientId, r.eventId, r.errorCode ?? '-', r.errorMessage.slice(0, 80)]),
          ),
        );
      }),
    );

  letters
    .command('show <id>')
    .description('one dead letter with the event as it was accepted (JSON)')
    .action((id: string) =>
      run(async (ctx) => {
        if (!/^[1-9]\d{0,17}$/.test(id)) throw new CliError(`Invalid dead letter id "${id}"`);
        const d = await getDeadLetter(ctx.sql, Number(id));
        if (!d) throw new CliError(`No dead letter ${id}`);
        ctx.out(`Dead letter ${d.id} of ${d.clientId}, event ${d.eventId}, failed ${when(d.failedAt)}: ${d.errorCode ?? '-'} ${d.errorMessage}`);
        ctx.out(JSON.stringify(JSON.parse(d.payload), null, 2));
      }),
    );

  letters
    .command('replay <id>')
    .description('store a dead letter again once its cause is fixed; it leaves the list when stored')
    .action((id: string) =>
      run(
        async (ctx) => {
          if (!/^\d+$/.test(id)) throw new CliError(`Invalid dead letter id "${id}"`);
          let stored: Awaited<ReturnType<typeof replayDeadLetter>>;
          try {
            stored = await replayDeadLetter(ctx.sql, Number(id), (tx, r) =>
              recordAudit(tx, {
                actor: ctx.actor,
                action: 'dead_letter.replay',
                target: `dead_letter:${id}`,
                details: { client_id: r.clientId, event_id: r.eventId },
                ip: null,
              }),
            );
          } catch (err) {
            throw new CliError(`Postgres still refuses dead letter ${id}: ${(err as Error).message}`);
          }
          if (!stored) throw new CliError(`No dead letter ${id}`);
          ctx.out(`✓ Event ${stored.eventId} of ${stored.clientId} stored`);
        },
        { writes: true },
      ),
    );
}
