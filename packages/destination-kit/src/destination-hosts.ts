import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { Agent, type Dispatcher } from 'undici';
import { RejectedError } from './delivery-errors';
import type { DestinationDefinition, SettingsIssue } from './destination-definition';

/**
 * Where destinations may send (issue 18): each destination type declares its ESP's hosts (`hosts`), and a
 * request to anything else — an IP address in any spelling, another host, or an ESP host over plain http — is
 * refused before it leaves, as is a connection to a host that resolves to a private, loopback or link-local
 * address. The deployment may allow more (TESSERA_ALLOWED_DESTINATION_HOSTS; the embedded sandbox): those are
 * trusted as they are, whatever they resolve to.
 */

/** The setting operators change to allow another host; named in every refusal. */
export const ALLOWED_HOSTS_SETTING = 'TESSERA_ALLOWED_DESTINATION_HOSTS';

/** A request a destination may not send: refused for good (never retried), naming the host, never a body. */
export class DestinationHostError extends RejectedError {}

/** A host name resolved to an address no destination may reach (thrown inside the connection's lookup). */
export class DestinationAddressError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`${host} resolves to ${address}, ${range}`);
    this.name = 'DestinationAddressError';
  }
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The address ranges a destination never reaches unless allowed, as a refusal names them. */
const RANGE_PHRASES: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a shared (carrier-grade NAT) address',
  private: 'a private address',
  uniqueLocal: 'a unique local (private) address',
  reserved: 'a reserved address',
  deprecatedSiteLocal: 'a site-local (private) address',
};

/**
 * Why an address may not be reached, or undefined for a public unicast one. IPv4-mapped IPv6 addresses are
 * judged as the IPv4 address they carry, and so are NAT64 ones (64:ff9b::/96, what DNS64 answers for an
 * IPv4-only host); every other special range (6to4, Teredo, documentation…) is refused.
 */
export function nonPublicRange(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address.replace(/^\[|\]$/g, ''));
  } catch {
    return 'not an IP address';
  }
  if (parsed.kind() === 'ipv6') {
    const ipv6 = parsed as ipaddr.IPv6;
    if (ipv6.match(ipaddr.IPv6.parse('64:ff9b::'), 96)) {
      const bytes = ipv6.toByteArray().slice(12);
      return nonPublicRange(ipaddr.fromByteArray(bytes).toString());
    }
  }
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  return RANGE_PHRASES[range] ?? `a special-purpose address (${range})`;
}

/** A URL's host as compared: lower case, no trailing dot, an IPv6 address without its brackets. */
function hostOf(url: URL): string {
  return url.hostname
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[|\]$/g, '');
}

const isIpAddress = (host: string): boolean => ipaddr.isValid(host);

const defaultPort = (protocol: string): string => (protocol === 'https:' ? '443' : '80');
const portOf = (url: URL): string => (url.port === '' ? defaultPort(url.protocol) : url.port);

/**
 * What is wrong with a declared ESP host pattern, or undefined: lower-case DNS names whose labels may be `*`
 * (exactly one label), with the last two labels spelled out — `a.klaviyo.com`, `*.api.mailchimp.com`,
 * `rest.*.braze.eu` — never an IP address, a port or a scheme.
 */
export function hostPatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string' || pattern === '') return 'must be a non-empty string';
  if (isIpAddress(pattern)) return `must be a host name, not an IP address (got ${JSON.stringify(pattern)})`;
  const labels = pattern.split('.');
  const valid = labels.every((label) => label === '*' || LABEL.test(label));
  if (!valid || labels.length < 2)
    return `must be a lower-case host name such as a.klaviyo.com or *.api.mailchimp.com (got ${JSON.stringify(pattern)})`;
  if (labels.slice(-2).includes('*'))
    return `must spell out its last two labels: * may stand for a sub-domain only (got ${JSON.stringify(pattern)})`;
  return undefined;
}

/** True when `host` (lower case, no trailing dot) matches `pattern`, `*` standing for exactly one label. */
export function hostMatches(pattern: string, host: string): boolean {
  const expected = pattern.split('.');
  const actual = host.split('.');
  return (
    expected.length === actual.length &&
    expected.every((label, index) => label === '*' || label === actual[index])
  );
}

/** One allowance of the deployment: a whole URL prefix, or a host (pattern) on any or one port. */
type Allowance =
  | { kind: 'url'; protocol: string; host: string; port: string; path: string }
  | { kind: 'host'; pattern: string; port?: string };

/** A TESSERA_ALLOWED_DESTINATION_HOSTS entry that does not parse: `entry` is it, `problem` what is wrong. */
export class AllowedHostsError extends Error {
  constructor(
    readonly entry: string,
    readonly problem: string,
  ) {
    super(`${JSON.stringify(entry)} ${problem}`);
    this.name = 'AllowedHostsError';
  }
}

function parseAllowance(entry: string): Allowance {
  const fail = (problem: string): never => {
    throw new AllowedHostsError(entry, problem);
  };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return fail('is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('must be an http(s) URL');
    if (url.username !== '' || url.password !== '') fail('must not carry credentials');
    if (url.search !== '' || url.hash !== '') fail('must not have a query or fragment');
    if (url.hostname.includes('*')) fail('is a URL: its host takes no wildcard (list the host alone)');
    return {
      kind: 'url',
      protocol: url.protocol,
      host: hostOf(url),
      port: portOf(url),
      path: url.pathname.replace(/\/+$/, ''),
    };
  }
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:/?#@[\]\s]+)(?::(\d{1,5}))?$/.exec(entry);
  if (match === null) return fail('must be a host, host:port, or an http(s) URL prefix');
  const [, rawHost = '', port] = match;
  if (port !== undefined && Number(port) > 65_535) fail('has a port above 65535');
  const wildcard = rawHost.includes('*');
  let host: string;
  if (wildcard) {
    host = rawHost.toLowerCase().replace(/\.$/, '');
    const problem = hostPatternProblem(host);
    if (problem !== undefined) fail(problem.replace(/^must/, 'with a wildcard must'));
  } else {
    try {
      host = hostOf(new URL(`http://${rawHost}`));
    } catch {
      return fail('is not a valid host');
    }
  }
  return { kind: 'host', pattern: host, ...(port === undefined ? {} : { port }) };
}

/**
 * The hosts a deployment allows beyond the ESPs' own (TESSERA_ALLOWED_DESTINATION_HOSTS, the embedded
 * sandbox): a URL prefix (`http://127.0.0.1:8080/sandbox` allows that origin below that path only), a host
 * (`esp-proxy.internal`, `*.corp.example`, `10.0.4.2`, `[fd00::2]`) on any port, or `host:port` on one. An
 * allowed URL is sent to as it is, whatever its host resolves to.
 */
export class AllowedDestinationHosts {
  static readonly none = new AllowedDestinationHosts([]);
  private readonly allowances: readonly Allowance[];

  /** Throws an AllowedHostsError naming the first entry that does not parse. */
  constructor(readonly entries: readonly string[]) {
    this.allowances = entries.map(parseAllowance);
  }

  /** A comma-separated list, as TESSERA_ALLOWED_DESTINATION_HOSTS holds it (blank entries ignored). */
  static parse(list: string | undefined): AllowedDestinationHosts {
    const entries = (list ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    return new AllowedDestinationHosts(entries);
  }

  /** These allowances and `entries` too. */
  with(...entries: string[]): AllowedDestinationHosts {
    return new AllowedDestinationHosts([...this.entries, ...entries]);
  }

  allows(url: URL): boolean {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    const host = hostOf(url);
    const port = portOf(url);
    return this.allowances.some((allowance) =>
      allowance.kind === 'url'
        ? allowance.protocol === url.protocol &&
          allowance.host === host &&
          allowance.port === port &&
          (allowance.path === '' ||
            url.pathname === allowance.path ||
            url.pathname.startsWith(`${allowance.path}/`))
        : hostMatches(allowance.pattern, host) && (allowance.port === undefined || allowance.port === port),
    );
  }
}

/** How host names are resolved before connecting (node's `dns.lookup`; tests hand in their own). */
export type HostLookup = (
  hostname: string,
  options: { all: true; family?: number },
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemLookup: HostLookup = (hostname, options, callback) => dnsLookup(hostname, options, callback);

type ConnectLookup = (
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/**
 * The connection's own lookup: every address the name resolves to must be public, checked on the addresses
 * the socket then connects to (no second resolution a rebinding DNS server could answer differently).
 */
function guardedLookup(resolve: HostLookup): ConnectLookup {
  return (hostname, options, callback) => {
    const family =
      options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
    resolve(hostname, { all: true, ...(family === 0 ? {} : { family }) }, (error, addresses) => {
      if (error !== null) return callback(error, []);
      for (const { address } of addresses) {
        const range = nonPublicRange(address);
        if (range !== undefined) return callback(new DestinationAddressError(hostname, address, range), []);
      }
      if (options.all === true) return callback(null, addresses);
      const [first] = addresses;
      if (first === undefined)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      return callback(null, first.address, first.family);
    });
  };
}

const guardedAgents = new WeakMap<HostLookup, Agent>();
let trustedAgent: Agent | undefined;

function guardedAgent(resolve: HostLookup): Agent {
  let agent = guardedAgents.get(resolve);
  if (agent === undefined) {
    agent = new Agent({ connect: { lookup: guardedLookup(resolve) } });
    guardedAgents.set(resolve, agent);
  }
  return agent;
}

/** What one destination instance may call: its type's ESP hosts, and what the deployment allows. */
export class DestinationHostPolicy {
  private readonly lookup: HostLookup;

  constructor(
    private readonly destination: { name: string; hosts: readonly string[] },
    private readonly allowed: AllowedDestinationHosts = AllowedDestinationHosts.none,
    options: { lookup?: HostLookup } = {},
  ) {
    this.lookup = options.lookup ?? systemLookup;
  }

  /** Why `url` may not be called (naming its host), or undefined when it may. */
  refusal(url: URL): string | undefined {
    const reason = this.reason(url);
    return reason === undefined ? undefined : `${reason}; ${ALLOWED_HOSTS_SETTING} can allow it`;
  }

  /**
   * The dispatcher to send `url` through: a URL the deployment allows goes as it is; an ESP host's connection
   * refuses any address that is not public.
   */
  dispatcherFor(url: URL): Dispatcher {
    if (this.allowed.allows(url)) return (trustedAgent ??= new Agent());
    return guardedAgent(this.lookup);
  }

  private reason(url: URL): string | undefined {
    if (this.allowed.allows(url)) return undefined;
    const host = hostOf(url);
    const hosts = `${this.destination.name}'s hosts (${this.destination.hosts.join(', ') || 'none declared'})`;
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      return `${url.protocol} URLs are never called (${host}): ${this.destination.name} is called over https`;
    if (isIpAddress(host)) {
      const range = nonPublicRange(host);
      const shown = url.hostname.replace(/^\[|\]$/g, '');
      const mapped = ipaddr.process(shown).toString();
      const what = `${shown}${mapped === shown ? '' : ` (${mapped})`}`;
      return `${what} is ${range ?? 'an IP address'}, not one of ${hosts}`;
    }
    if (!this.destination.hosts.some((pattern) => hostMatches(pattern, host)))
      return `${host} is not one of ${hosts}`;
    if (url.protocol !== 'https:') return `${host} is called over https only (got ${url.protocol})`;
    return undefined;
  }
}

/**
 * What is wrong with the hosts of a destination's resolved settings (`baseUrl` and every `x-endpoint` setting),
 * as settings issues: where the console refuses to save them and start-up refuses a workspace file.
 */
export function destinationHostIssues(
  definition: Pick<DestinationDefinition<unknown>, 'name' | 'hosts' | 'settingsSchema'>,
  settings: Record<string, unknown>,
  allowed: AllowedDestinationHosts = AllowedDestinationHosts.none,
): SettingsIssue[] {
  const policy = new DestinationHostPolicy(definition, allowed);
  const issues: SettingsIssue[] = [];
  for (const [name, property] of Object.entries(definition.settingsSchema.properties)) {
    if (name !== 'baseUrl' && property['x-endpoint'] !== true) continue;
    const value = settings[name];
    if (typeof value !== 'string' || value === '') continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      issues.push({ pointer: `/${name}`, message: `must be an https URL (got ${JSON.stringify(value)})` });
      continue;
    }
    const refusal = policy.refusal(url);
    if (refusal !== undefined) issues.push({ pointer: `/${name}`, message: refusal });
  }
  return issues;
}
