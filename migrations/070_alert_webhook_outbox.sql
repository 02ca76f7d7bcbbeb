-- 070_alert_webhook_outbox: when an alert's webhook delivery was queued. An
-- alert commits before its delivery job is queued in Redis; a crash between
-- the two used to lose the webhook for good (the next evaluation finds the
-- alert already raised). The worker now queues every alert of the last day
-- that has no webhook_queued_at, then sets it: an outbox.
alter table alerts add column webhook_queued_at timestamptz;
-- alerts raised before this migration are not sent again
update alerts set webhook_queued_at = raised_at;
create index alerts_webhook_pending_idx on alerts (raised_at) where webhook_queued_at is null;
