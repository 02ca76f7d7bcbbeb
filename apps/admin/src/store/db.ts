import type { Sql } from '@central-logger/db';

/** The transaction handle `sql.begin` passes to its callback (read off its last overload, `begin(options, cb)`). */
export type Tx = Parameters<Parameters<Sql['begin']>[1]>[0];

/** A pool or a transaction: what a query that may run inside `sql.begin` takes. */
export type Db = Sql | Tx;

/**
 * packages/db and packages/keys type their repositories with the pool type;
 * a transaction handle runs the same tagged-template queries, so their
 * writes can share a transaction with the audit row.
 */
export function asSql(tx: Tx): Sql {
  return tx as unknown as Sql;
}
