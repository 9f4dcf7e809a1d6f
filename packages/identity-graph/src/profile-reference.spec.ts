import { parseProfileReference, ProfileReferenceError } from './profile-reference';

const notAReference = (reference: string) =>
  `"${reference}" is not a profile reference: expected type:value, e.g. email:ana@example.com or member.<brand>:SD123`;
const unknownType = (prefix: string) =>
  `unknown identifier type "${prefix}": use customer_id, email, phone, loyalty_card, anonymous_id, device_id or member.<brand>`;

describe('parseProfileReference', () => {
  it.each([
    ['customer_id:C123', 'customer_id', 'C123'],
    ['email:ana@example.com', 'email', 'ana@example.com'],
    ['phone:+447700900123', 'phone', '+447700900123'],
    ['loyalty_card:6337 1234 5678', 'loyalty_card', '6337 1234 5678'],
    ['anonymous_id:anon-42', 'anonymous_id', 'anon-42'],
    ['device_id:ios-ABC', 'device_id', 'ios-ABC'],
  ] as const)('reads %p', (reference, type, value) => {
    expect(parseProfileReference(reference)).toEqual({ type, scope: '', value });
  });

  it('reads member.<brand> as a member id scoped by that brand', () => {
    expect(parseProfileReference('member.sports-direct:SD123')).toEqual({
      type: 'member',
      scope: 'sports-direct',
      value: 'SD123',
    });
  });

  it('splits at the first colon: the value may contain colons', () => {
    expect(parseProfileReference('device_id:aa:bb:cc')).toEqual({
      type: 'device_id',
      scope: '',
      value: 'aa:bb:cc',
    });
    expect(parseProfileReference('member.flannels:FL:7')).toEqual({
      type: 'member',
      scope: 'flannels',
      value: 'FL:7',
    });
  });

  it.each(['ana@example.com', 'C123', ''])('refuses %p without a colon', (reference) => {
    expect(() => parseProfileReference(reference)).toThrow(
      new ProfileReferenceError(notAReference(reference)),
    );
  });

  it.each(['email:', 'member.sports-direct:'])('refuses %p with an empty value', (reference) => {
    expect(() => parseProfileReference(reference)).toThrow(
      new ProfileReferenceError(notAReference(reference)),
    );
  });

  it('refuses an empty type', () => {
    expect(() => parseProfileReference(':C123')).toThrow(new ProfileReferenceError(notAReference(':C123')));
  });

  it.each([
    ['twitter:@ana', 'twitter'],
    ['Email:ana@example.com', 'Email'],
    ['member:SD123', 'member'],
    ['member.:SD123', 'member.'],
  ])('refuses %p: unknown type', (reference, prefix) => {
    expect(() => parseProfileReference(reference)).toThrow(new ProfileReferenceError(unknownType(prefix)));
  });

  it('throws a ProfileReferenceError (an Error), so callers can answer 400', () => {
    let thrown: unknown;
    try {
      parseProfileReference('member.:SD123');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProfileReferenceError);
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toBe(unknownType('member.'));
  });
});
