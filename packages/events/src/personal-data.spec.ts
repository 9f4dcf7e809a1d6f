import { createHmac } from 'node:crypto';
import type { CatalogEvent } from './catalog-event';
import { EventCatalog } from './event-catalog';
import { EVENT_TYPES } from './generated/event-types';
import {
  isPersonalDataPlaceholder,
  markedFields,
  maskPersonalValue,
  PERSONAL_DATA_PLACEHOLDERS,
  placeholderMask,
  splitAroundPlaceholders,
} from './personal-data';

const catalog = new EventCatalog();
// A keyed digest, as the vault's blind index is.
const mask = placeholderMask((kind, value) =>
  createHmac('sha256', 'spec-key').update(`${kind}:${value}`).digest('hex'),
);

describe('personal data in the catalog', () => {
  it('lists the fields each type marks, through $ref, allOf and nested objects', () => {
    const fields = (type: Parameters<EventCatalog['entry']>[0]) =>
      Object.fromEntries(catalog.entry(type).personalData.map((field) => [field.pointer, field.kind]));
    expect(fields('profile.updated')).toEqual({
      '/subject': 'text',
      '/extensions/*': 'text',
      '/data/email': 'email',
      '/data/phone': 'phone',
      '/data/first_name': 'name',
      '/data/last_name': 'name',
      '/data/address': 'address',
    });
    expect(fields('consent.changed')).toMatchObject({
      '/data/email': 'email',
      '/data/phone': 'phone',
      '/data/proof/ip': 'ip',
      '/data/proof/user_agent': 'text',
    });
    expect(fields('account.linked')).toMatchObject({
      '/data/link/email': 'email',
      '/data/link/phone': 'phone',
    });
    expect(fields('membership.merged')).toMatchObject({ '/data/email': 'email', '/data/phone': 'phone' });
    // Every member event carries the identifiers, so every one marks the contact points.
    for (const type of EVENT_TYPES.filter((name) => !name.startsWith('membership.split'))) {
      expect(Object.keys(fields(type))).toEqual(expect.arrayContaining(['/data/email', '/data/phone']));
    }
  });

  it('masks a copy: names, address lines, contact points, subject and extensions; ids, amounts and the country stay', () => {
    const event: CatalogEvent<'profile.updated'> = {
      specversion: '1.0',
      id: 'evt-1',
      source: 'crm',
      type: 'profile.updated',
      subject: 'ana.lopez@mailbox.org',
      extensions: { partitionkey: 'ana.lopez@mailbox.org' },
      data: {
        customer_id: 'C1',
        email: 'Ana.Lopez@Mailbox.org',
        phone: '07700 900123',
        first_name: 'Anabela',
        last_name: 'Lopez',
        address: { line1: '14 Quarry Lane', city: 'Harrogate', postcode: 'HG1 2AB', country: 'GB' },
        preferred_channel: 'email',
        source_ids: { 'sports-direct': 'SD123' },
      },
    };
    const before = structuredClone(event);
    const masked = catalog.maskPersonalData(event, mask);

    expect(event).toEqual(before);
    expect(masked).toEqual({
      specversion: '1.0',
      id: 'evt-1',
      source: 'crm',
      type: 'profile.updated',
      subject: '•••',
      extensions: { partitionkey: '•••' },
      data: {
        customer_id: 'C1',
        email: expect.stringMatching(/^masked-[0-9a-f]{8}@example\.net$/),
        phone: '+12025550100',
        first_name: '•••',
        last_name: '•••',
        address: { line1: '•••', city: '•••', postcode: '•••', country: 'GB' },
        preferred_channel: 'email',
        source_ids: { 'sports-direct': 'SD123' },
      },
    });
    // Still a valid event of its type: rules see the shapes they expect.
    expect(catalog.validateData('profile.updated', structuredClone(masked.data))).toEqual([]);
    const text = JSON.stringify(masked);
    for (const fragment of ['ana', 'lopez', 'mailbox', 'Anabela', 'Quarry', 'Harrogate', 'HG1', '900123']) {
      expect(text.toLowerCase()).not.toContain(fragment.toLowerCase());
    }
  });

  it('gives the same address the same placeholder, and another address another', () => {
    const email = (value: string) => mask('email', value);
    expect(email('ana@mailbox.org')).toBe(email('ana@mailbox.org'));
    expect(email('ana@mailbox.org')).not.toBe(email('bruno@mailbox.org'));
    expect(isPersonalDataPlaceholder(email('ana@mailbox.org'))).toBe(true);
    expect(isPersonalDataPlaceholder(PERSONAL_DATA_PLACEHOLDERS.phone)).toBe(true);
    expect(isPersonalDataPlaceholder('ana@mailbox.org')).toBe(false);
  });

  it('cuts a text around its placeholders, and only whole ones', () => {
    const email = mask('email', 'ana@mailbox.org');
    expect(splitAroundPlaceholders(`to ${email}, call +12025550100 or +120255501009`)).toEqual([
      { text: 'to ', placeholder: false },
      { text: email, placeholder: true },
      { text: ', call ', placeholder: false },
      { text: '+12025550100', placeholder: true },
      { text: ' or +120255501009', placeholder: false },
    ]);
    expect(splitAroundPlaceholders(`${email}.uk`)).toEqual([{ text: `${email}.uk`, placeholder: false }]);
    expect(splitAroundPlaceholders('')).toEqual([{ text: '', placeholder: false }]);
  });

  it('masks every leaf of a marked array or object, and the whole data of a type it does not know', () => {
    expect(maskPersonalValue('name', ['Ana', { nick: 'Annie' }, 7], mask)).toEqual([
      '•••',
      { nick: '•••' },
      '•••',
    ]);
    const unknown = {
      specversion: '1.0',
      id: 'x',
      source: 's',
      type: 'loyalty.legacy',
      data: { note: 'Ana' },
    };
    expect(catalog.maskPersonalData(unknown as unknown as CatalogEvent, mask).data).toEqual({ note: '•••' });
  });

  it('refuses a mark that names no kind, and a $ref it cannot resolve', () => {
    expect(() => markedFields({ properties: { x: { 'x-pii': 'secret' } } }, new Map())).toThrow(
      'x-pii "secret" at /x: use one of email, phone, name, address, date, ip, text',
    );
    expect(() => markedFields({ $ref: 'urn:nowhere#/$defs/x' }, new Map())).toThrow(
      'unresolvable $ref urn:nowhere#/$defs/x',
    );
  });
});
