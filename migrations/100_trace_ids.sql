-- 100_trace_ids: find a tenant's logs by trace id (issue 15, OTLP ingest).
--
-- OTLP log records keep their trace and span ids in metadata (trace_id,
-- span_id: lowercase hex), where JSON events may put theirs too; GET
-- /api/v1/logs filters on them with `(metadata ->> 'trace_id') = $1`. This
-- partial expression index serves that filter per tenant, newest first, and
-- costs nothing for rows without a trace id. Rows of one trace are few, so
-- a span_id filter is served through it too when trace_id is given; span_id
-- alone scans the tenant's rows in the requested time range.
-- No grants: the reader role already selects workflow_logs, and the index
-- follows every partition, present and future (attach included).

create index workflow_logs_client_trace_idx on workflow_logs (client_id, (metadata ->> 'trace_id'), executed_at desc)
  where (metadata ->> 'trace_id') is not null;
