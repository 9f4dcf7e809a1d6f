import { catchConfigurationError } from './testing/catch-configuration-error';
import { destinationHostAllowance } from './destination-host-allowance';
import { loadSettings } from './settings';

const CWD = '/srv/tessera';
const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

const configurationError = (env: Record<string, string>) =>
  catchConfigurationError(() => loadSettings(env, CWD));

describe('loadSettings', () => {
  it('has working defaults for a local start', () => {
    expect(loadSettings({}, CWD)).toEqual({
      nodeEnv: 'development',
      production: false,
      port: 8080,
      host: '127.0.0.1',
      redisUrl: 'redis://127.0.0.1:6379',
      redisUrlExplicit: false,
      redisPrefix: '{tessera}',
      databaseUrl: undefined,
      dataDir: '/srv/tessera/.tessera',
      masterKey: undefined,
      previousMasterKeys: [],
      workspaceFile: undefined,
      logLevel: 'info',
      dedupeWindowSeconds: 3600,
      inboundPollSeconds: 300,
      deliverConcurrency: 4,
      ingestMaxQueueDepth: 100_000,
      sourceRateLimit: 5000,
      destinations: 'all',
      adminKey: undefined,
      sandbox: true,
      demo: true,
      metricsToken: undefined,
      allowedDestinationHosts: [],
      http: {
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 72_000,
        maxHeaderBytes: 16_384,
      },
    });
  });

  it('takes the console admin key from TESSERA_ADMIN_KEY, refusing a short one', () => {
    const key = 'tsk_0123456789abcdef0123456789abcdef0123456';
    expect(loadSettings({ TESSERA_ADMIN_KEY: key }, CWD).adminKey).toBe(key);
    expect(() => loadSettings({ TESSERA_ADMIN_KEY: 'short' }, CWD)).toThrow(
      'TESSERA_ADMIN_KEY: expected 32 to 512 characters without spaces (e.g. tsk_ + 43 random base64url characters)',
    );
  });

  it('in production on the embedded store, listens on loopback only, without the sandbox or the demo', () => {
    expect(loadSettings({ NODE_ENV: 'production', TESSERA_MASTER_KEY: MASTER_KEY }, CWD)).toMatchObject({
      nodeEnv: 'production',
      production: true,
      host: '127.0.0.1',
      masterKey: MASTER_KEY,
      sandbox: false,
      demo: false,
    });
  });

  it('in production on PostgreSQL (processes behind a load balancer), listens on every interface', () => {
    expect(
      loadSettings(
        {
          NODE_ENV: 'production',
          TESSERA_MASTER_KEY: MASTER_KEY,
          DATABASE_URL: 'postgres://tessera@db/tessera',
        },
        CWD,
      ),
    ).toMatchObject({ host: '0.0.0.0', sandbox: false, demo: false });
  });

  it('mounts the sandbox, creates the demo and listens where told in production when asked explicitly', () => {
    expect(
      loadSettings(
        {
          NODE_ENV: 'production',
          TESSERA_MASTER_KEY: MASTER_KEY,
          TESSERA_SANDBOX: 'on',
          TESSERA_DEMO: 'ON',
          HOST: '0.0.0.0',
        },
        CWD,
      ),
    ).toMatchObject({ host: '0.0.0.0', sandbox: true, demo: true });
    expect(loadSettings({ TESSERA_SANDBOX: 'off', TESSERA_DEMO: 'off' }, CWD)).toMatchObject({
      sandbox: false,
      demo: false,
    });
  });

  it('refuses a TESSERA_ALLOWED_DESTINATION_HOSTS entry that does not parse, naming it', () => {
    const error = catchConfigurationError(() =>
      loadSettings({ TESSERA_ALLOWED_DESTINATION_HOSTS: 'esp-proxy.internal, *' }, CWD),
    );
    expect([error.setting, error.message]).toEqual([
      'TESSERA_ALLOWED_DESTINATION_HOSTS',
      'TESSERA_ALLOWED_DESTINATION_HOSTS: "*" with a wildcard must be a lower-case host name such as a.klaviyo.com or *.api.mailchimp.com (got "*") (expected a comma-separated list of hosts, host:port, *.domain or http(s) URL prefixes)',
    ]);
    expect(() => loadSettings({ TESSERA_ALLOWED_DESTINATION_HOSTS: 'ftp://files.example' }, CWD)).toThrow(
      'TESSERA_ALLOWED_DESTINATION_HOSTS: "ftp://files.example" must be an http(s) URL',
    );
  });

  it("allows destinations the embedded start's own sandbox, and nothing else of this process", () => {
    const allows = (env: Record<string, string>, url: string) =>
      destinationHostAllowance(loadSettings(env, CWD)).allows(new URL(url));
    expect(allows({}, 'http://127.0.0.1:8080/sandbox/klaviyo/api/profiles')).toBe(true);
    expect(allows({}, 'http://localhost:8080/sandbox/klaviyo')).toBe(true);
    expect(allows({}, 'http://[::1]:8080/sandbox/klaviyo')).toBe(true);
    expect(allows({}, 'http://127.0.0.1:8080/v1/dsr')).toBe(false);
    expect(allows({}, 'http://localhost:8080/v1/dsr')).toBe(false);
    expect(allows({ HOST: '10.0.0.8' }, 'http://10.0.0.8:8080/sandbox/braze')).toBe(true);
    expect(allows({ HOST: '10.0.0.8' }, 'http://localhost:8080/sandbox/braze')).toBe(false);
    expect(allows({ PORT: '9000', HOST: '0.0.0.0' }, 'http://127.0.0.1:9000/sandbox/braze')).toBe(true);
    // No sandbox mounted, PostgreSQL (not the embedded start), or a port picked at listen time: nothing.
    expect(allows({ TESSERA_SANDBOX: 'off', TESSERA_DEMO: 'off' }, 'http://127.0.0.1:8080/sandbox/x')).toBe(
      false,
    );
    expect(allows({ DATABASE_URL: 'postgres://db/t' }, 'http://127.0.0.1:8080/sandbox/x')).toBe(false);
    expect(allows({ PORT: '0' }, 'http://127.0.0.1:0/sandbox/x')).toBe(false);
    expect(
      allows(
        { DATABASE_URL: 'postgres://db/t', TESSERA_ALLOWED_DESTINATION_HOSTS: 'esp-proxy.internal:8443' },
        'https://esp-proxy.internal:8443/klaviyo',
      ),
    ).toBe(true);
  });

  it('takes the /metrics bearer token from TESSERA_METRICS_TOKEN', () => {
    const token = 'mtk_0123456789abcdef0123456789abcdef';
    expect(loadSettings({ TESSERA_METRICS_TOKEN: ` ${token} ` }, CWD).metricsToken).toBe(token);
  });

  it('reads every setting that is given, trimmed', () => {
    const settings = loadSettings(
      {
        NODE_ENV: 'test',
        PORT: ' 9090 ',
        HOST: '::1',
        REDIS_URL: 'rediss://cache.internal:6380/2',
        TESSERA_REDIS_PREFIX: '{acme.prod}',
        DATABASE_URL: 'postgresql://tessera@db/tessera',
        TESSERA_DATA_DIR: '/var/lib/tessera',
        TESSERA_WORKSPACE_FILE: '/etc/tessera/workspace.json',
        LOG_LEVEL: 'debug',
        TESSERA_DEDUPE_WINDOW_SECONDS: '60',
        TESSERA_INBOUND_POLL_SECONDS: '30',
        TESSERA_DELIVER_CONCURRENCY: '8',
        TESSERA_INGEST_MAX_QUEUE_DEPTH: '5',
        TESSERA_SOURCE_RATE_LIMIT: '250',
        TESSERA_DESTINATIONS: 'Klaviyo, braze,klaviyo',
        TESSERA_PREVIOUS_MASTER_KEYS: ' old-key-1 , old-key-2 ',
        TESSERA_SANDBOX: 'off',
        TESSERA_DEMO: 'off',
        TESSERA_METRICS_TOKEN: 'metrics-token-0123456789abcdef0123456789',
        TESSERA_HTTP_HEADERS_TIMEOUT_MS: '2000',
        TESSERA_HTTP_REQUEST_TIMEOUT_MS: '2000',
        TESSERA_HTTP_KEEP_ALIVE_TIMEOUT_MS: '5000',
        TESSERA_HTTP_MAX_HEADER_BYTES: '8192',
        TESSERA_ALLOWED_DESTINATION_HOSTS: ' esp-proxy.internal , http://10.0.0.5:4010/esp,',
      },
      CWD,
    );
    expect(settings).toEqual({
      nodeEnv: 'test',
      production: false,
      port: 9090,
      host: '::1',
      redisUrl: 'rediss://cache.internal:6380/2',
      redisUrlExplicit: true,
      redisPrefix: '{acme.prod}',
      databaseUrl: 'postgresql://tessera@db/tessera',
      dataDir: '/var/lib/tessera',
      masterKey: undefined,
      previousMasterKeys: ['old-key-1', 'old-key-2'],
      workspaceFile: '/etc/tessera/workspace.json',
      logLevel: 'debug',
      dedupeWindowSeconds: 60,
      inboundPollSeconds: 30,
      deliverConcurrency: 8,
      ingestMaxQueueDepth: 5,
      sourceRateLimit: 250,
      destinations: ['klaviyo', 'braze'],
      sandbox: false,
      demo: false,
      metricsToken: 'metrics-token-0123456789abcdef0123456789',
      allowedDestinationHosts: ['esp-proxy.internal', 'http://10.0.0.5:4010/esp'],
      http: {
        headersTimeoutMs: 2000,
        requestTimeoutMs: 2000,
        keepAliveTimeoutMs: 5000,
        maxHeaderBytes: 8192,
      },
    });
  });

  it('treats blank values as unset', () => {
    expect(loadSettings({ PORT: '', REDIS_URL: '  ', LOG_LEVEL: '' }, CWD)).toMatchObject({
      port: 8080,
      redisUrlExplicit: false,
      logLevel: 'info',
    });
  });

  it('resolves a relative data folder and workspace file against the working directory', () => {
    expect(
      loadSettings({ TESSERA_DATA_DIR: 'data', TESSERA_WORKSPACE_FILE: '../config/workspace.json' }, CWD),
    ).toMatchObject({ dataDir: '/srv/tessera/data', workspaceFile: '/srv/config/workspace.json' });
  });

  describe('rejects a bad setting, naming it', () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ PORT: 'abc' }, 'PORT', 'PORT: expected a whole number from 0 to 65535, got "abc"'],
      [{ PORT: '70000' }, 'PORT', 'PORT: expected a whole number from 0 to 65535, got "70000"'],
      [{ PORT: '-1' }, 'PORT', 'PORT: expected a whole number from 0 to 65535, got "-1"'],
      [{ REDIS_URL: 'http://x' }, 'REDIS_URL', 'REDIS_URL: expected redis: or rediss: URL, got http:'],
      [{ REDIS_URL: 'not a url' }, 'REDIS_URL', 'REDIS_URL: expected a URL (redis://… or rediss://…)'],
      [
        { DATABASE_URL: 'mysql://x' },
        'DATABASE_URL',
        'DATABASE_URL: expected postgres: or postgresql: URL, got mysql:',
      ],
      [
        { LOG_LEVEL: 'loud' },
        'LOG_LEVEL',
        'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      ],
      [
        { TESSERA_REDIS_PREFIX: 'tessera' },
        'TESSERA_REDIS_PREFIX',
        'TESSERA_REDIS_PREFIX: expected a hash tag such as {tessera} (letters, digits, _ . -)',
      ],
      [
        { NODE_ENV: 'production' },
        'TESSERA_MASTER_KEY',
        'TESSERA_MASTER_KEY: is required when NODE_ENV=production (32 random bytes, base64)',
      ],
      [
        { TESSERA_DEDUPE_WINDOW_SECONDS: '10' },
        'TESSERA_DEDUPE_WINDOW_SECONDS',
        'TESSERA_DEDUPE_WINDOW_SECONDS: expected a whole number from 60 to 2592000, got "10"',
      ],
      [
        { TESSERA_INGEST_MAX_QUEUE_DEPTH: '0' },
        'TESSERA_INGEST_MAX_QUEUE_DEPTH',
        'TESSERA_INGEST_MAX_QUEUE_DEPTH: expected a whole number from 1 to 100000000, got "0"',
      ],
      [
        { TESSERA_DESTINATIONS: 'klaviyo;braze' },
        'TESSERA_DESTINATIONS',
        'TESSERA_DESTINATIONS: expected "all" or a comma-separated list of destination types (e.g. "klaviyo,braze"), got "klaviyo;braze"',
      ],
      [
        { TESSERA_SOURCE_RATE_LIMIT: '1.5' },
        'TESSERA_SOURCE_RATE_LIMIT',
        'TESSERA_SOURCE_RATE_LIMIT: expected a whole number from 1 to 10000000, got "1.5"',
      ],
      [
        { TESSERA_DELIVER_CONCURRENCY: '0' },
        'TESSERA_DELIVER_CONCURRENCY',
        'TESSERA_DELIVER_CONCURRENCY: expected a whole number from 1 to 64, got "0"',
      ],
      [{ TESSERA_SANDBOX: 'yes' }, 'TESSERA_SANDBOX', 'TESSERA_SANDBOX: expected "on" or "off", got "yes"'],
      [{ TESSERA_DEMO: 'false' }, 'TESSERA_DEMO', 'TESSERA_DEMO: expected "on" or "off", got "false"'],
      [
        { TESSERA_SANDBOX: 'off' },
        'TESSERA_SANDBOX',
        "TESSERA_SANDBOX: the demo workspace delivers to this process's ESP sandbox: set TESSERA_DEMO=off too, or TESSERA_SANDBOX=on",
      ],
      [
        { NODE_ENV: 'production', TESSERA_MASTER_KEY: MASTER_KEY, TESSERA_DEMO: 'on' },
        'TESSERA_SANDBOX',
        "TESSERA_SANDBOX: the demo workspace delivers to this process's ESP sandbox: set TESSERA_DEMO=off too, or TESSERA_SANDBOX=on",
      ],
      [
        { TESSERA_METRICS_TOKEN: 'short' },
        'TESSERA_METRICS_TOKEN',
        'TESSERA_METRICS_TOKEN: expected 32 to 512 visible ASCII characters without spaces (e.g. openssl rand -hex 32)',
      ],
      [
        { TESSERA_HTTP_HEADERS_TIMEOUT_MS: '20000', TESSERA_HTTP_REQUEST_TIMEOUT_MS: '15000' },
        'TESSERA_HTTP_HEADERS_TIMEOUT_MS',
        'TESSERA_HTTP_HEADERS_TIMEOUT_MS: must not exceed TESSERA_HTTP_REQUEST_TIMEOUT_MS (15000), got 20000',
      ],
      [
        { TESSERA_HTTP_HEADERS_TIMEOUT_MS: '40000' },
        'TESSERA_HTTP_HEADERS_TIMEOUT_MS',
        'TESSERA_HTTP_HEADERS_TIMEOUT_MS: must not exceed TESSERA_HTTP_REQUEST_TIMEOUT_MS (30000), got 40000',
      ],
      [
        { TESSERA_HTTP_REQUEST_TIMEOUT_MS: '0' },
        'TESSERA_HTTP_REQUEST_TIMEOUT_MS',
        'TESSERA_HTTP_REQUEST_TIMEOUT_MS: expected a whole number from 500 to 3600000, got "0"',
      ],
      [
        { TESSERA_HTTP_KEEP_ALIVE_TIMEOUT_MS: '5s' },
        'TESSERA_HTTP_KEEP_ALIVE_TIMEOUT_MS',
        'TESSERA_HTTP_KEEP_ALIVE_TIMEOUT_MS: expected a whole number from 1000 to 600000, got "5s"',
      ],
      [
        { TESSERA_HTTP_MAX_HEADER_BYTES: '100' },
        'TESSERA_HTTP_MAX_HEADER_BYTES',
        'TESSERA_HTTP_MAX_HEADER_BYTES: expected a whole number from 1024 to 1048576, got "100"',
      ],
    ];

    it.each(cases)('%j', (env, setting, message) => {
      const error = configurationError(env);
      expect(error.name).toBe('ConfigurationError');
      expect(error.setting).toBe(setting);
      expect(error.message).toBe(message);
    });
  });
});
