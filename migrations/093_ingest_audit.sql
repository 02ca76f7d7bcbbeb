-- 093_ingest_audit: tenant self-service key changes are audited by ingest-api.
--
-- An owner key creating, revoking or rotating its tenant's keys through
-- /api/v1/keys writes its admin_audit row in the change's own transaction,
-- as the ingest role. Insert only: ingest never reads or changes the log.

grant insert on admin_audit to central_logger_ingest;
