import {
  DestinationRunner,
  DestinationSettingsError,
  pointSettingsAt,
  redactSettings,
  resolveDestinationSettings,
} from '@tessera/destination-kit';
import { sfmcDestination } from './sfmc.destination';
import type { SfmcSettings } from './sfmc-settings';

const minimal = {
  subdomain: 'mc563885gzs27c5t9-63k636ttgm',
  clientId: 'id',
  clientSecret: 'secret',
  dataExtensionKey: 'TesseraProfiles',
};

describe('SFMC settings', () => {
  it('puts the subdomain into the REST, auth and SOAP hosts and applies the defaults', () => {
    const validation = resolveDestinationSettings<SfmcSettings>(sfmcDestination, minimal);

    expect(validation).toEqual({
      ok: true,
      settings: {
        ...minimal,
        baseUrl: 'https://mc563885gzs27c5t9-63k636ttgm.rest.marketingcloudapis.com',
        authBaseUrl: 'https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com',
        soapBaseUrl: 'https://mc563885gzs27c5t9-63k636ttgm.soap.marketingcloudapis.com',
        fieldMapping: {},
        segmentColumns: {},
        asyncRowsThreshold: 50,
        asyncJobWaitMs: 120_000,
        // The kit's merge cooling-off, a setting of every destination that merges.
        mergeCoolingOffMinutes: 1440,
      },
    });
  });

  it('keeps explicit hosts (the sandbox points all three at the emulator)', () => {
    const pointed = pointSettingsAt(
      sfmcDestination.settingsSchema,
      minimal,
      'http://127.0.0.1:9/sandbox/sfmc',
    );
    const validation = resolveDestinationSettings<SfmcSettings>(sfmcDestination, pointed);

    expect(
      validation.ok && [
        validation.settings.baseUrl,
        validation.settings.authBaseUrl,
        validation.settings.soapBaseUrl,
      ],
    ).toEqual([
      'http://127.0.0.1:9/sandbox/sfmc',
      'http://127.0.0.1:9/sandbox/sfmc',
      'http://127.0.0.1:9/sandbox/sfmc',
    ]);
  });

  it.each([
    [
      'a missing subdomain',
      { ...minimal, subdomain: undefined },
      '/subdomain',
      "must have required property 'subdomain'",
    ],
    [
      'an upper-case subdomain',
      { ...minimal, subdomain: 'MC123.evil' },
      '/subdomain',
      'must match pattern "^[a-z0-9][a-z0-9-]{2,62}$"',
    ],
    [
      'a missing data extension key',
      { ...minimal, dataExtensionKey: undefined },
      '/dataExtensionKey',
      "must have required property 'dataExtensionKey'",
    ],
    ['a non-numeric MID', { ...minimal, accountId: 'BU-1' }, '/accountId', 'must match pattern "^[0-9]+$"'],
    [
      'a SOAP host that is no URL',
      { ...minimal, soapBaseUrl: 'soap.{subdomain}' },
      '/soapBaseUrl',
      'must be an http(s) URL (got "soap.mc563885gzs27c5t9-63k636ttgm")',
    ],
    [
      'a short ENS signature key',
      { ...minimal, ensSignatureKey: 'c2hvcnQ=' },
      '/ensSignatureKey',
      'must decode to at least 16 bytes',
    ],
    [
      'a segment column with a dash',
      { ...minimal, segmentColumns: { gold: 'Gold-Tier' } },
      '/segmentColumns/gold',
      'must match pattern "^[A-Za-z_][A-Za-z0-9_ ]{0,127}$"',
    ],
  ])('refuses %s with a pointer to the setting', (_case, settings, pointer, message) => {
    const validation = resolveDestinationSettings(sfmcDestination, JSON.parse(JSON.stringify(settings)));

    expect(validation).toEqual({ ok: false, errors: [{ pointer, message }] });
  });

  it('refuses to build a runner on invalid settings', () => {
    expect(() => new DestinationRunner(sfmcDestination, { settings: { ...minimal, subdomain: '' } })).toThrow(
      DestinationSettingsError,
    );
  });

  it('marks the auth and SOAP hosts as endpoints and the secrets as secrets', () => {
    const properties = sfmcDestination.settingsSchema.properties;
    expect(properties['authBaseUrl']?.['x-endpoint']).toBe(true);
    expect(properties['soapBaseUrl']?.['x-endpoint']).toBe(true);
    expect(redactSettings(sfmcDestination.settingsSchema, { ...minimal, ensSignatureKey: 'a2V5' })).toEqual({
      ...minimal,
      clientSecret: '***',
      ensSignatureKey: '***',
    });
  });
});
