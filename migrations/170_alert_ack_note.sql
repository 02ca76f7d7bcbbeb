-- 170_alert_ack_note: why an alert was acknowledged, in the acknowledging
-- admin's words ("rotated the key", "our own load test"), shown with the alert
-- so the next person on call need not ask. Optional; the audit row of the
-- acknowledgement carries it too. The admin role already updates alerts (090).
alter table alerts add column acknowledged_note text;
