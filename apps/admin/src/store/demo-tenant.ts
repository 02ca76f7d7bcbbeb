import { createClient, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { asSql } from './db.js';
import { audited, recordAudit } from './audit.js';

/** Who the audit log names for what `npm start` creates on a first run. */
export const START_ACTOR = 'npm-start';

/**
 * The demo client and its owner key, with their audit rows, in one
 * transaction: everything in the audit log that exists, whoever made it.
 * Returns the key (shown once by the caller).
 */
export async function createDemoTenant(sql: Sql, options: { clientId?: string; bcryptCost: number }): Promise<{ key: string; prefix: string }> {
  const clientId = options.clientId ?? 'demo';
  return sql.begin(async (tx) => {
    const client = await createClient(asSql(tx), clientId, 'Demo tenant');
    await recordAudit(tx, audited.clientCreated(START_ACTOR, client, null));
    const { key, record } = await createKey(asSql(tx), { name: 'demo owner key', role: 'owner', clientId, bcryptCost: options.bcryptCost });
    await recordAudit(tx, audited.keyIssued(START_ACTOR, record, null));
    return { key, prefix: record.prefix };
  }) as Promise<{ key: string; prefix: string }>;
}
