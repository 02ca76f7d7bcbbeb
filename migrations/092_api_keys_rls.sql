-- 092_api_keys_rls: ingest-api can never mint or change an admin key.
--
-- ingest-api inserts and updates api_keys (tenant self-service keys, revoke,
-- rotate, usage flush, legacy hash upgrade), so SQL run as
-- central_logger_ingest could otherwise insert an admin key whose hash it
-- chose, or overwrite an admin key's hash, and take over the admin API. Row
-- security on api_keys (not forced: the owner, which only migrates, is not
-- bound) lets that role see every key but write tenant keys only; an admin
-- key used against ingest-api is refused (403) there anyway, and its
-- last_used_at is the admin app's to record. The admin app and CLI keep full
-- access; the worker reads (its column grants leave key_hash out, 090).
-- Any other role that is granted api_keys later needs a policy here too.

alter table api_keys enable row level security;

create policy api_keys_admin on api_keys to central_logger_admin using (true) with check (true);
create policy api_keys_worker_select on api_keys for select to central_logger_worker using (true);
create policy api_keys_ingest_select on api_keys for select to central_logger_ingest using (true);
create policy api_keys_ingest_insert on api_keys for insert to central_logger_ingest
  with check (role <> 'admin' and client_id is not null);
create policy api_keys_ingest_update on api_keys for update to central_logger_ingest
  using (role <> 'admin') with check (role <> 'admin' and client_id is not null);
