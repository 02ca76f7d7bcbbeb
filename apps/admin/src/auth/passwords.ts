// moved to packages/tenant-auth: tenant users' passwords are hashed alike (issue 14)
export { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordProblem, verifyPassword } from '@central-logger/tenant-auth';
