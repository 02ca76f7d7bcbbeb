// moved to packages/tenant-auth: the ingest API's tenant sign-in uses the same limiter
export { LoginLimiter, type LoginLimits, type LoginTicket } from '@central-logger/tenant-auth';
