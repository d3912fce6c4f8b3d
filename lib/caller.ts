import { DomainError } from './errors';
import { type Caller, Role } from './gen/aitbc/marketplace/v1/common';

export { Role };
export type { Caller };

const ROLE_NAMES: Record<Role, string> = {
  [Role.ROLE_UNSPECIFIED]: 'none',
  [Role.ROLE_CLIENT]: 'client',
  [Role.ROLE_PROVIDER]: 'provider',
  [Role.ROLE_ADMIN]: 'admin',
  [Role.ROLE_SERVICE]: 'service',
  [Role.UNRECOGNIZED]: 'none',
};

export const roleName = (role: Role): string => ROLE_NAMES[role] ?? 'none';

/** Checks that a call names its caller and that the caller's role may make it. */
export function requireCaller(caller: Caller | undefined, allowed: Role[]): Caller {
  if (!caller || !caller.accountId || caller.role === Role.ROLE_UNSPECIFIED) {
    throw new DomainError('UNAUTHENTICATED', 'the call does not name its caller');
  }
  if (!allowed.includes(caller.role)) {
    throw new DomainError('PERMISSION_DENIED', `this needs the role ${allowed.map(roleName).join(' or ')}; the key has ${roleName(caller.role)}`);
  }
  return caller;
}

/** Role lists the services check calls against. */
export const ANYONE = [Role.ROLE_CLIENT, Role.ROLE_PROVIDER, Role.ROLE_ADMIN, Role.ROLE_SERVICE];
/** Who owns GPUs and miners: providers, and admins acting for them. */
export const OWNERS = [Role.ROLE_PROVIDER, Role.ROLE_ADMIN];

/** Admins and mesh services see everything; others only what their account owns. */
export const seesAll = (caller: Caller): boolean => caller.role === Role.ROLE_ADMIN || caller.role === Role.ROLE_SERVICE;

/** An account id: what AITBC_API_KEYS names and what a service may book for (`client_id`). */
export const ACCOUNT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const isAccountId = (text: string): boolean => ACCOUNT_ID.test(text);
