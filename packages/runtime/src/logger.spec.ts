import { createLogger, redactContactPoints } from './logger';

describe('redactContactPoints', () => {
  it.each([
    ['an email address', 'mail ana.silva+promo@mail.example.co.uk now', 'mail [email] now'],
    ['an international number with spaces', 'call +44 7700 900123', 'call [phone]'],
    ['an international number without spaces', 'call +447700900123.', 'call [phone].'],
    ['a grouped national number', 'call 07700 900 123 today', 'call [phone] today'],
    ['a London number in brackets', 'call (020) 7946 0000', 'call [phone]'],
    [
      'contact points inside a JSON line',
      '{"email":"ana@example.com","phone":"+447700900123"}',
      '{"email":"[email]","phone":"[phone]"}',
    ],
  ])('masks %s', (_name, line, expected) => {
    expect(redactContactPoints(line)).toBe(expected);
  });

  it.each([
    ['an ISO timestamp', '{"time":"2026-11-01T10:00:00.000Z"}'],
    ['an ISO timestamp with an offset', '{"time":"2026-11-01T10:00:00+01:00"}'],
    ['an epoch-ms number', '{"time":1700000000000}'],
    ['a customer id', '{"customer_id":"C123456"}'],
    ['a UUID with a 0-led group', '{"id":"a1b2c3d4-0123-4567-8901-cdef01234567"}'],
    ['a points balance', '{"delta":-120,"new_balance":1840}'],
  ])('leaves %s alone', (_name, line) => {
    expect(redactContactPoints(line)).toBe(line);
  });
});

describe('createLogger', () => {
  function collect(level: Parameters<typeof createLogger>[0] = 'info') {
    const lines: string[] = [];
    const logger = createLogger(level, { write: (line: string) => lines.push(line) });
    return { logger, lines };
  }

  it('writes JSON lines with no contact points or secrets in them', () => {
    const { logger, lines } = collect();
    logger.info(
      {
        email: 'ana@example.com',
        profile: { phone: '+447700900123' },
        secret: 'whsec_x',
        note: 'call +44 7700 900123 or mail ana@example.com',
      },
      'hello ana@example.com',
    );
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).not.toContain('ana@example.com');
    expect(line).not.toContain('7700');
    expect(line).not.toContain('whsec_x');
    expect(JSON.parse(line)).toMatchObject({
      level: 30,
      service: 'tessera',
      email: '[redacted]',
      profile: { phone: '[redacted]' },
      secret: '[redacted]',
      note: 'call [phone] or mail [email]',
      msg: 'hello [email]',
    });
  });

  it('redacts signature headers and nested secrets', () => {
    const { logger, lines } = collect();
    logger.warn(
      {
        source: { id: 'loyalty', secrets: ['whsec_a', 'whsec_b'] },
        headers: { authorization: 'Bearer t0ken', 'webhook-signature': 'v1,c2lnbmF0dXJl' },
      },
      'rejected',
    );
    expect(JSON.parse(lines[0])).toMatchObject({
      source: { id: 'loyalty', secrets: '[redacted]' },
      headers: { authorization: '[redacted]', 'webhook-signature': '[redacted]' },
    });
    expect(lines[0]).not.toMatch(/whsec_|t0ken|c2lnbmF0dXJl/);
  });

  it('writes an ISO time and honours the level', () => {
    const { logger, lines } = collect('warn');
    logger.info('dropped');
    logger.error('kept');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]) as { msg: string; time: string };
    expect(entry.msg).toBe('kept');
    expect(entry.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});
