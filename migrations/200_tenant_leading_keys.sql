-- 200_tenant_leading_keys: the unique keys of tenant tables lead with
-- client_id, as a table distributed by client_id (Citus) requires of every
-- primary key and unique constraint; see docs/scale-out.md. No behaviour
-- changes on one Postgres.
--
-- workflow_logs (client_id, event_id, executed_at), quota_warnings
-- (client_id, day, threshold) and client_limits (client_id) already do. The
-- one left was dead_letter_events, keyed by its identity id alone: its key
-- becomes (client_id, id). id stays unique by its identity (never reused);
-- a plain index keeps the lookups by id (dead-letters show / replay) indexed.
-- The table holds refused events only, so the rebuild is small.

alter table dead_letter_events drop constraint dead_letter_events_pkey;
alter table dead_letter_events add constraint dead_letter_events_pkey primary key (client_id, id);
create index dead_letter_events_id_idx on dead_letter_events (id);
