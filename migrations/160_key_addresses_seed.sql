-- 160_key_addresses_seed: the key_addresses seed for databases that applied
-- the first text of 050.
--
-- 050 was edited after it shipped: its later text also seeds key_addresses
-- with each key's last_used_ip, so the first usage roll-up does not call an
-- address the key already used "new" (alert rule 4). A database that ran the
-- first text (its ledger holds that text's checksum, accepted by the
-- migrator) gets the seed here; on every other database this inserts nothing.
-- An address the roll-up recorded since is kept as it is.
--
-- No parameters. Grants: none needed (no new objects).

insert into key_addresses (key_id, address, first_seen, last_seen)
select id, last_used_ip, last_used_at, last_used_at
from api_keys
where last_used_ip is not null and last_used_at is not null
  and exists (
    select 1 from schema_migrations
    where version = '050_usage_alerts.sql'
      and checksum = '834bb32df52c3a07fe7b22ea262478a19e47b6924591ba12e12aefed6452eebd'
  )
on conflict (key_id, address) do nothing;
