-- 060_dead_letters: events Postgres refused to store although they passed
-- validation at the edge. The worker isolates such rows (the rest of their
-- batch is stored) and keeps each here with the error, so nothing accepted is
-- silently lost and an operator can see, fix and replay it. The payload is the
-- event as JSON text: JSON escapes make any content storable as text.

create table dead_letter_events (
  id            bigint generated always as identity primary key,
  client_id     text not null,
  event_id      text not null,
  received_at   timestamptz not null,
  payload       text not null,
  error_code    text,
  error_message text not null,
  failed_at     timestamptz not null default now()
);
create index dead_letter_events_client_idx on dead_letter_events (client_id, failed_at desc);
create index dead_letter_events_failed_at_idx on dead_letter_events (failed_at desc);
