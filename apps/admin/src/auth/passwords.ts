// moved to packages/tenant-auth: tenant users' passwords are hashed alike (one hashing for admins and tenant users)
export { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordProblem, verifyPassword } from '@central-logger/tenant-auth';
