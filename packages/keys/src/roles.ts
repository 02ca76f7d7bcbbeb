import { AppError } from '@central-logger/errors';

export const ROLES = ['agent', 'reader', 'owner', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const SCOPES = ['logs:write', 'logs:read', 'keys:manage', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const roleScopes: Record<Role, readonly Scope[]> = {
  agent: ['logs:write'],
  reader: ['logs:read'],
  owner: ['logs:write', 'logs:read', 'keys:manage'],
  admin: ['admin'],
};

export function hasScope(role: Role, scope: Scope): boolean {
  return roleScopes[role].includes(scope);
}

export function requireScope(role: Role, scope: Scope): void {
  if (!hasScope(role, scope)) {
    throw new AppError('insufficient_scope', `This key's role (${role}) lacks the ${scope} scope this endpoint needs`);
  }
}

/** "An agent key", "A reader key": a role's key at the start of a sentence. */
export function aKeyOf(role: Role): string {
  return `${/^[aeiou]/.test(role) ? 'An' : 'A'} ${role} key`;
}
