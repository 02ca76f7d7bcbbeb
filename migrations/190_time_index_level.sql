-- 190_time_index_level: the histogram reads its counts from the time index alone.
--
-- GET /api/v1/logs/histogram counts a tenant's rows per time bucket and
-- level. The tenant's time index (client_id, executed_at desc, event_id desc)
-- finds the rows, but level lived only in the table, so each row cost a heap
-- page: over 7 days (23,000 rows of one tenant at 5 M rows, bench/reads) that
-- was 100–500 ms. With level carried in the index (INCLUDE: stored in the
-- leaf entries, not part of the key, so ordering, the keyset cursor and
-- lookups are unchanged) the histogram is an index-only scan. The index is
-- the same one every INSERT already maintains, a few bytes wider per entry;
-- no index is added (write cost measured with bench:ingest, see
-- bench/reads/README.md).
-- The index is rebuilt: on an existing installation this migration holds
-- workflow_logs' lock while every partition's index is built (inserts wait and
-- the worker retries; about 2 minutes for 5 M rows on a 2-core machine).

drop index workflow_logs_client_time_idx;
create index workflow_logs_client_time_idx on workflow_logs (client_id, executed_at desc, event_id desc) include (level);
