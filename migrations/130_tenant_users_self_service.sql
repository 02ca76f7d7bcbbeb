-- 130_tenant_users_self_service: a tenant's owners manage their own users from ingest-api.
--
-- The console's Users page (and PATCH / DELETE /api/v1/users/:id) lets an owner
-- change a user's role and deactivate a user of their own tenant; ingest-api
-- checks the tenant in every statement and audits each change. Until now only
-- the admin app could write these columns (110).
--
-- Grants: central_logger_ingest may update role, is_active and deactivated_at
-- (not the username, the password hash or the tenant).
grant update (role, is_active, deactivated_at) on tenant_users to central_logger_ingest;
