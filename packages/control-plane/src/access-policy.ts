/** The roles of the control plane's API keys. */
export const ROLES = ['admin', 'marketer', 'operator', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a request may do, one name per kind of act. A route declares the one it needs; the policy below is the
 * only place that says which role holds which.
 */
export const PERMISSIONS = {
  'workspace.read': 'read the workspace (brands, sources, destinations, plugins, the deployment)',
  'workspace.write': 'create or change brands, sources and destinations',
  'secrets.manage': 'create, rotate and revoke secrets and API keys',
  'destinations.toggle': 'change destination states',
  'destinations.pause': 'pause and resume destinations',
  'mappings.write': 'edit mappings, rules and plugin configuration',
  'mappings.preview': 'preview mappings',
  'profiles.read': 'look up profiles',
  'profiles.merge': 'merge and unmerge profiles',
  'pii.read': 'read raw personal data',
  'dead-letters.read': 'read dead letters',
  'dead-letters.replay': 'replay or discard dead letters',
  'sources.hold': 'hold and release sources',
  'reviews.read': 'read the review queue',
  'reviews.decide': 'approve or reject probable merges',
  'dsr.read': 'read data subject requests',
  'dsr.write': 'open data subject requests and download their exports',
  'audit.read': 'read the audit log',
  'dashboard.read': 'read the delivery dashboard',
  'queues.read': 'see the queues and their jobs in Bull Board',
  'queues.operate':
    'operate the queues in Bull Board (pause, resume, retry, promote, clean, empty, add or remove jobs)',
} as const;
export type Permission = keyof typeof PERMISSIONS;

const READ_ALL: Permission[] = [
  'workspace.read',
  'profiles.read',
  'dead-letters.read',
  'reviews.read',
  'dsr.read',
  'audit.read',
  'dashboard.read',
  'queues.read',
];

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(Object.keys(PERMISSIONS) as Permission[]),
  marketer: new Set<Permission>([
    'workspace.read',
    'destinations.toggle',
    'destinations.pause',
    'mappings.write',
    'mappings.preview',
    'profiles.read',
    'dashboard.read',
  ]),
  operator: new Set<Permission>([
    'workspace.read',
    'destinations.pause',
    'dead-letters.read',
    'dead-letters.replay',
    'sources.hold',
    'profiles.read',
    'reviews.read',
    'dashboard.read',
    'dsr.read',
    'queues.read',
  ]),
  auditor: new Set<Permission>(READ_ALL),
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function can(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

/** A role's permissions, in the order of PERMISSIONS: what the UI shows and hides by. */
export function permissionsOf(role: Role): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((permission) => GRANTS[role].has(permission));
}

/**
 * Whether a role may move a destination from one state to another: a toggle sets every state; pausing alone
 * (an operator) pauses an enabled destination and resumes a paused one.
 */
export function mayChangeState(role: Role, from: DestinationState, to: DestinationState): boolean {
  if (can(role, 'destinations.toggle')) return true;
  const pauseOrResume = (from === 'enabled' && to === 'paused') || (from === 'paused' && to === 'enabled');
  return pauseOrResume && can(role, 'destinations.pause');
}

export type DestinationState = 'enabled' | 'paused' | 'disabled';

/** The 403 message a role gets for a permission it lacks. */
export function refusal(role: Role, permission: Permission): string {
  return `role ${role} may not ${PERMISSIONS[permission]}`;
}
