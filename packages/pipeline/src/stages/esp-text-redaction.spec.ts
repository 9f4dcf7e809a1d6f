import type { DeliveryItem } from '@tessera/queues';
import { redactEspText } from './esp-text-redaction';

const item = (operationItem: Record<string, unknown>): DeliveryItem => ({
  operation: { operation: 'upsertProfiles', item: operationItem } as unknown as DeliveryItem['operation'],
  itemKey: 'k',
  receivedAt: '2026-11-24T10:00:00.000Z',
  attempts: 0,
});

describe('redactEspText', () => {
  const profile = item({
    customerId: 'C7',
    email: 'ana.quixote@example.com',
    phone: '+33612345678',
    attributes: { first_name: 'Ana', last_name: 'Quixote', city: 'Lyon' },
  });

  it.each([
    ['the email in another case', 'refused ANA.QUIXOTE@EXAMPLE.COM', 'refused [email]'],
    ['an email it does not know', 'duplicate of bob@example.org', 'duplicate of [email]'],
    ['the phone as sent', 'bad number +33612345678', 'bad number [phone]'],
    ['the phone without its plus', 'bad number 33612345678.', 'bad number [phone].'],
    ['the phone with its trunk 0', 'bad number 0612345678', 'bad number [phone]'],
    ['the phone spaced', 'bad number +33 6 12 34 56 78', 'bad number [phone]'],
    ['the names as whole words', 'Ana Quixote is not Anabel', '[name] [name] is not Anabel'],
  ])('masks %s', (_case, text, expected) => {
    expect(redactEspText(text, profile)).toBe(expected);
  });

  it('keeps what is not the person’s: ids, counts, other attributes', () => {
    const text = 'HTTP 400: profile C7 (Lyon) has 3 errors at 2026-11-24T10:00:00Z, request 1700000000000';
    expect(redactEspText(text, profile)).toBe(text);
  });

  it('masks written contact points without an item', () => {
    expect(redactEspText('for ana@example.com or 07700 900 123')).toBe('for [email] or [phone]');
  });
});
