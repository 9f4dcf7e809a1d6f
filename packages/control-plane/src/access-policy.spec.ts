import { can, mayChangeState, permissionsOf, refusal, ROLES } from './access-policy';

describe('access policy', () => {
  it('gives admin everything and the auditor no change at all', () => {
    expect(permissionsOf('admin')).toHaveLength(21);
    const changes = permissionsOf('auditor').filter((permission) => !permission.endsWith('.read'));
    expect(changes).toEqual([]);
    expect(can('auditor', 'audit.read')).toBe(true);
  });

  it('keeps secrets and raw PII from marketers, and dead letters to operators', () => {
    expect(can('marketer', 'destinations.toggle')).toBe(true);
    expect(can('marketer', 'mappings.write')).toBe(true);
    expect(can('marketer', 'secrets.manage')).toBe(false);
    expect(can('marketer', 'pii.read')).toBe(false);
    expect(can('marketer', 'dead-letters.replay')).toBe(false);
    expect(can('operator', 'dead-letters.replay')).toBe(true);
    expect(can('operator', 'destinations.toggle')).toBe(false);
    expect(ROLES.filter((role) => can(role, 'pii.read'))).toEqual(['admin']);
  });

  it('lets operators and auditors see the queues in Bull Board, and only an admin operate them', () => {
    expect(ROLES.filter((role) => can(role, 'queues.read'))).toEqual(['admin', 'operator', 'auditor']);
    expect(ROLES.filter((role) => can(role, 'queues.operate'))).toEqual(['admin']);
    expect(refusal('operator', 'queues.operate')).toBe(
      'role operator may not operate the queues in Bull Board (pause, resume, retry, promote, clean, empty, add or remove jobs)',
    );
  });

  it('words a refusal as the role and the act', () => {
    expect(refusal('marketer', 'dead-letters.replay')).toBe(
      'role marketer may not replay or discard dead letters',
    );
  });

  it('lets an operator only pause and resume, a marketer set every state, an auditor none', () => {
    expect(mayChangeState('operator', 'enabled', 'paused')).toBe(true);
    expect(mayChangeState('operator', 'paused', 'enabled')).toBe(true);
    expect(mayChangeState('operator', 'disabled', 'enabled')).toBe(false);
    expect(mayChangeState('operator', 'enabled', 'disabled')).toBe(false);
    expect(mayChangeState('marketer', 'disabled', 'enabled')).toBe(true);
    expect(mayChangeState('auditor', 'enabled', 'paused')).toBe(false);
  });
});
