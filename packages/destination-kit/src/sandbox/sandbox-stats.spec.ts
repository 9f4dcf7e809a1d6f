import {
  defaultEndpointTemplate,
  looksLikeId,
  MAX_ENDPOINT_TEMPLATES,
  SandboxStatsCounter,
} from './sandbox-stats';

describe('defaultEndpointTemplate', () => {
  it.each([
    ['/api/profiles', '/api/profiles'],
    ['/3.0/lists/12345/members', '/3.0/lists/{id}/members'],
    // Mailchimp's subscriber hash (md5) and a hex list id.
    ['/3.0/lists/a1b2c3d4e5/members/5f4dcc3b5aa765d61d8327deb882cf99', '/3.0/lists/{id}/members/{id}'],
    ['/jobs/6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a6b/status', '/jobs/{id}/status'],
    ['/api/profiles/01GDDKASAP8TKDDA2GRZDSVP4H/', '/api/profiles/{id}/'],
    ['/members/ann%40example.com', '/members/{id}'],
    ['/members/ann@example.com/tags', '/members/{id}/tags'],
  ])('templates %s as %s', (path, template) => {
    expect(defaultEndpointTemplate(path)).toBe(template);
  });

  it('leaves names alone: versions, words, short hex-looking words, keys', () => {
    expect(defaultEndpointTemplate('/v2/token')).toBe('/v2/token');
    expect(defaultEndpointTemplate('/3.0/batches')).toBe('/3.0/batches');
    expect(defaultEndpointTemplate('/api/profile-import')).toBe('/api/profile-import');
    expect(defaultEndpointTemplate('/data/v1/async/dataextensions/key:members/rows')).toBe(
      '/data/v1/async/dataextensions/key:members/rows',
    );
    expect(looksLikeId('added')).toBe(false);
    expect(looksLikeId('deadbeef')).toBe(true);
    expect(looksLikeId('%E0%A4%A')).toBe(false); // malformed escapes are kept as they are
  });
});

describe('SandboxStatsCounter', () => {
  it('keeps at most MAX_ENDPOINT_TEMPLATES endpoints and counts the rest per method under {other}', () => {
    const counter = new SandboxStatsCounter();
    for (let n = 0; n < MAX_ENDPOINT_TEMPLATES + 3; n++) counter.count(`GET /name-${n}`, 'GET', 200, false);
    counter.count('GET /name-0', 'GET', 200, false);
    const stats = counter.snapshot();
    expect(Object.keys(stats.byEndpoint)).toHaveLength(MAX_ENDPOINT_TEMPLATES + 1);
    expect(stats.byEndpoint['GET {other}']).toBe(3);
    expect(stats.byEndpoint['GET /name-0']).toBe(2);
    expect(stats.total).toBe(MAX_ENDPOINT_TEMPLATES + 4);
  });
});
