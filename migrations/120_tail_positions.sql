-- 120_tail_positions: where a stored log sits in commit order, for the live tail.
--
-- GET /api/v1/logs/tail sends each event once it is stored and resumes after
-- a reconnect with no gap and no repeat. Neither executed_at (the client's
-- clock) nor a sequence number can give that position: two workers' INSERTs
-- commit in any order, so a reader could see row 11 before row 10 commits
-- and skip it for good. Instead each row carries the id of the transaction
-- that stored it (stored_tx), and a tail position is a Postgres snapshot
-- (pg_current_snapshot()): the rows "new since" a position are exactly those
-- whose transaction that snapshot did not see, whatever their commit order
-- (pg_visible_in_snapshot). See packages/db/src/logs-tail.ts.
--
-- The column has no default on the ALTER itself (a volatile default would
-- rewrite every partition); SET DEFAULT afterwards applies to new rows only.
-- Rows stored before this migration keep NULL and are never "new" to a tail.
-- The index serves "this tenant's rows from transactions at or after the
-- snapshot's xmin": the recent end of the tenant's rows.
-- No grants: the reader role selects workflow_logs whole, the worker inserts
-- (the default fills the column), and the index follows every partition.

alter table workflow_logs add column stored_tx xid8;
alter table workflow_logs alter column stored_tx set default pg_current_xact_id();
create index workflow_logs_client_stored_tx_idx on workflow_logs (client_id, stored_tx);
