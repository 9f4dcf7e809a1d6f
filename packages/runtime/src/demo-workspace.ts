import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrandDefinition, WorkspaceDefinition } from './workspace-file';

export const DEMO_CREDENTIALS_FILE = 'demo-credentials.json';

/** The group programme every demo member can belong to. */
export const DEMO_GROUP_BRAND: BrandDefinition = {
  id: 'northwind',
  name: 'Northwind Rewards',
  defaultCountry: 'GB',
};
/** A sports retailer the group bought, whose own loyalty members are folding into the group programme. */
export const DEMO_SPORTS_BRAND: BrandDefinition = {
  id: 'summit-sports',
  name: 'Summit Sports',
  defaultCountry: 'GB',
};
/** Kept from the first demo (one brand, one source): `npm run demo:send` and the README's curl post here. */
export const DEMO_GROUP_SOURCE_ID = 'demo-loyalty';
export const DEMO_SPORTS_SOURCE_ID = 'summit-sports-loyalty';

/**
 * Per ESP mount (`klaviyo`, `mailchimp`…), the configuration the demo's sandbox emulators start with: applied
 * with the emulator's `configure` when the demo workspace is active (`npm start`, `npm run sandbox`). An ESP
 * without an entry keeps its emulator's defaults.
 */
export const DEMO_SANDBOX_CONFIG: Record<string, unknown> = {
  // The Summit Sports audience of the demo's Mailchimp destination: Mailchimp's default merge fields, the
  // TESSERA_ID field the destination links members with, and the mapped TIER and POINTS.
  mailchimp: {
    audiences: [
      {
        id: 'summit-members',
        name: 'Summit Sports members',
        mergeFields: [
          { tag: 'FNAME', type: 'text', name: 'First Name' },
          { tag: 'LNAME', type: 'text', name: 'Last Name' },
          { tag: 'ADDRESS', type: 'address', name: 'Address' },
          { tag: 'PHONE', type: 'phone', name: 'Phone Number' },
          { tag: 'BIRTHDAY', type: 'birthday', name: 'Birthday' },
          { tag: 'TESSERA_ID', type: 'text', name: 'Tessera customer id' },
          { tag: 'TIER', type: 'text', name: 'Loyalty tier' },
          { tag: 'POINTS', type: 'number', name: 'Points balance' },
        ],
      },
    ],
  },
  // The tenant of the demo's SFMC destination (northwind-sfmc): its installed package, and the profiles data
  // extension with every column the destination writes (the mapped attributes, names, contact points, VIP).
  sfmc: {
    clients: [{ clientId: 'northwind-demo-client', clientSecret: 'northwind-demo-sandbox-secret' }],
    dataExtensions: [
      {
        key: 'TesseraProfiles',
        primaryKeys: ['TesseraId'],
        columns: [
          { name: 'TesseraId', type: 'Text', maxLength: 254, required: true },
          { name: 'EmailAddress', type: 'EmailAddress' },
          { name: 'Phone', type: 'Phone' },
          { name: 'FirstName', type: 'Text', maxLength: 100 },
          { name: 'LastName', type: 'Text', maxLength: 100 },
          { name: 'LoyaltyTier', type: 'Text', maxLength: 50 },
          { name: 'PointsBalance', type: 'Number' },
          { name: 'PointsToNextTier', type: 'Number' },
          { name: 'VIP', type: 'Boolean' },
        ],
      },
    ],
  },
};

export interface DemoSourceCredentials {
  id: string;
  brand: string;
  secret: string;
  typeMap: Record<string, string>;
}

export interface DemoCredentials {
  note: string;
  createdAt: string;
  brands: BrandDefinition[];
  /** The group programme's source first: older scripts read `sources[0]`. */
  sources: DemoSourceCredentials[];
}

/** A credentials file written before the demo had two brands: one `brand`, one source. */
interface LegacyDemoCredentials {
  note?: string;
  createdAt?: string;
  brand?: BrandDefinition;
  brands?: BrandDefinition[];
  sources: DemoSourceCredentials[];
}

const ADMIN_NOTE =
  'Demo workspace created by the first embedded start of Tessera: the Northwind group programme and ' +
  'Summit Sports, one signing secret per source. Keep this file private (it signs events as these ' +
  'sources); delete it, with the data folder, to start the demo afresh; set TESSERA_DEMO=off to run ' +
  'without the demo. `npm run demo:traffic` reads it to send demo members and a live stream of events.';

const LOYALTY_TYPE_MAP: Record<string, string> = {
  points_earned: 'points.updated',
  tier_upgraded: 'tier.changed',
  member_updated: 'profile.updated',
};

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface DemoWorkspaceOptions {
  /**
   * The port this process listens on: the demo destinations call the ESP sandbox this very process serves
   * at `/sandbox/{esp}`. `0` (a port picked at listen time) cannot be known here, so the demo then has no
   * destinations.
   */
  port: number;
  /** The interface it listens on (HOST); a wildcard one is reached at 127.0.0.1. */
  host?: string;
  /** Destination types this deployment runs (TESSERA_DESTINATIONS): the demo declares no other. */
  destinationTypes?: 'all' | readonly string[];
}

export interface DemoWorkspace {
  workspace: WorkspaceDefinition;
  file: string;
  created: boolean;
  /** Why the demo has no destinations or fewer than four, for the start-up log; undefined when it has all. */
  destinationsNote?: string;
}

/**
 * The demo workspace an embedded start declares, so a newcomer sees events flow from two brands' sources to
 * all four ESPs of the sandbox at once. The sources' secrets live in the data folder (mode 0600) and are
 * reused on every later start; the destinations are derived again at each start from the port, so nothing
 * about them is stored.
 */
export function ensureDemoWorkspace(
  dataDir: string,
  options: DemoWorkspaceOptions = { port: 0 },
): DemoWorkspace {
  const file = join(dataDir, DEMO_CREDENTIALS_FILE);
  let created = false;
  if (!existsSync(file)) {
    const credentials: DemoCredentials = {
      note: ADMIN_NOTE,
      createdAt: new Date().toISOString(),
      brands: [DEMO_GROUP_BRAND, DEMO_SPORTS_BRAND],
      sources: [groupSource(newWebhookSecret()), sportsSource(newWebhookSecret())],
    };
    writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  }
  const credentials = upgradeCredentials(
    file,
    JSON.parse(readFileSync(file, 'utf8')) as LegacyDemoCredentials,
  );
  const { destinations, note } = demoDestinations(options);
  return {
    file,
    created,
    ...(note === undefined ? {} : { destinationsNote: note }),
    workspace: {
      brands: credentials.brands,
      sources: credentials.sources.map(({ id, brand, secret, typeMap }) => ({
        id,
        brand,
        secrets: [secret],
        typeMap,
      })),
      destinations,
    },
  };
}

function groupSource(secret: string): DemoSourceCredentials {
  return { id: DEMO_GROUP_SOURCE_ID, brand: DEMO_GROUP_BRAND.id, secret, typeMap: LOYALTY_TYPE_MAP };
}

function sportsSource(secret: string): DemoSourceCredentials {
  return { id: DEMO_SPORTS_SOURCE_ID, brand: DEMO_SPORTS_BRAND.id, secret, typeMap: LOYALTY_TYPE_MAP };
}

/**
 * A file from the one-brand demo keeps its `demo-loyalty` secret (whoever signs with it keeps working) and
 * gains the second brand and source; it is rewritten once, atomically, with the same mode.
 */
function upgradeCredentials(file: string, stored: LegacyDemoCredentials): DemoCredentials {
  const current =
    stored.brands !== undefined &&
    stored.sources.some((source) => source.id === DEMO_SPORTS_SOURCE_ID) &&
    stored.sources.some((source) => source.id === DEMO_GROUP_SOURCE_ID);
  if (current) return stored as DemoCredentials;
  const groupSecret =
    stored.sources.find((source) => source.id === DEMO_GROUP_SOURCE_ID)?.secret ?? newWebhookSecret();
  const sportsSecret =
    stored.sources.find((source) => source.id === DEMO_SPORTS_SOURCE_ID)?.secret ?? newWebhookSecret();
  const upgraded: DemoCredentials = {
    note: ADMIN_NOTE,
    createdAt: stored.createdAt ?? new Date().toISOString(),
    brands: [DEMO_GROUP_BRAND, DEMO_SPORTS_BRAND],
    sources: [groupSource(groupSecret), sportsSource(sportsSecret)],
  };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(upgraded, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
  return upgraded;
}

/** Where this process's sandbox answers: a wildcard or loopback interface is reached on 127.0.0.1. */
export function sandboxRoot(port: number, host: string | undefined): string {
  const loopback = host === undefined || ['0.0.0.0', '::', '127.0.0.1', 'localhost', '::1'].includes(host);
  const reachable = loopback ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${reachable}:${port}/sandbox`;
}

// What every demo destination syncs: the member's tier and points, and a VIP segment, for members whose
// email marketing consent for the brand is granted. Members without a record or who withdrew reach each ESP as
// the destinations' `withoutGrant` policy says: `minimal` (the default, spelled out below) sends identifiers and
// subscription state only, whatever the rules and the profile-sync plugin produce.
const MARKETING_CONDITIONS = [
  'has(profile.email)',
  'profile.?marketing_consent.email.orValue("withdrawn") == "granted"',
  'event.type in ["profile.updated", "points.updated", "tier.changed", "transaction.created", "consent.changed"]',
];
const TIER_AND_POINTS = {
  loyalty_tier: 'profile.?loyalty_tier.orValue("Bronze")',
  points_balance: 'profile.?points_balance.orValue(0)',
  points_to_next_tier:
    'profile.?points_balance.orValue(0) >= 15000 ? 0 : ' +
    '(profile.?points_balance.orValue(0) >= 5000 ? 15000 : ' +
    '(profile.?points_balance.orValue(0) >= 1000 ? 5000 : 1000)) - profile.?points_balance.orValue(0)',
};
const VIP_SEGMENT = {
  segment: 'VIP',
  when: 'profile.?loyalty_tier.orValue("") in ["Gold", "Platinum"]',
};

/**
 * The four demo destinations, all on the sandbox of this process, spread so each ESP type is used once: the
 * group programme on Klaviyo and Salesforce Marketing Cloud, Summit Sports on Braze and Mailchimp. The
 * sandbox accepts any well-formed credentials, so fixed ones do; they never leave this machine.
 */
function demoDestinations(options: DemoWorkspaceOptions): {
  destinations: Array<Record<string, unknown>>;
  note?: string;
} {
  if (options.port === 0) {
    return {
      destinations: [],
      note:
        'the demo has no destinations: PORT=0 picks a port only when listening, and the demo destinations ' +
        'must know it to call this process’s ESP sandbox; set a fixed PORT to get them',
    };
  }
  const root = sandboxRoot(options.port, options.host);
  const all: Array<Record<string, unknown>> = [
    {
      id: 'northwind-klaviyo',
      brand: DEMO_GROUP_BRAND.id,
      type: 'klaviyo',
      settings: { apiKey: 'pk_demo_northwind_sandbox', baseUrl: `${root}/klaviyo`, withoutGrant: 'minimal' },
      // No VIP segment here: Klaviyo segments are lists the account must already hold (their ids are
      // Klaviyo's), and the sandbox's Klaviyo starts without any.
      mappings: { conditions: MARKETING_CONDITIONS, mappings: TIER_AND_POINTS, segments: [] },
      plugins: [{ name: 'profile-sync' }],
    },
    {
      id: 'northwind-sfmc',
      brand: DEMO_GROUP_BRAND.id,
      type: 'sfmc',
      settings: {
        subdomain: 'northwind-demo',
        clientId: 'northwind-demo-client',
        clientSecret: 'northwind-demo-sandbox-secret',
        // The data extension DEMO_SANDBOX_CONFIG.sfmc gives the SFMC emulator.
        dataExtensionKey: 'TesseraProfiles',
        baseUrl: `${root}/sfmc`,
        authBaseUrl: `${root}/sfmc`,
        soapBaseUrl: `${root}/sfmc`,
        withoutGrant: 'minimal',
        fieldMapping: {
          loyalty_tier: 'LoyaltyTier',
          points_balance: 'PointsBalance',
          points_to_next_tier: 'PointsToNextTier',
        },
      },
      // Named columns rather than the profile-sync plugin: a data extension has a fixed set of columns.
      mappings: {
        conditions: MARKETING_CONDITIONS,
        mappings: {
          ...TIER_AND_POINTS,
          first_name: 'profile.?first_name.orValue("")',
          last_name: 'profile.?last_name.orValue("")',
        },
        segments: [VIP_SEGMENT],
      },
    },
    {
      id: 'summit-sports-braze',
      brand: DEMO_SPORTS_BRAND.id,
      type: 'braze',
      settings: {
        apiKey: 'summit-sports-demo-sandbox-key',
        baseUrl: `${root}/braze`,
        withoutGrant: 'minimal',
      },
      mappings: { conditions: MARKETING_CONDITIONS, mappings: TIER_AND_POINTS, segments: [VIP_SEGMENT] },
      plugins: [{ name: 'profile-sync' }],
    },
    {
      id: 'summit-sports-mailchimp',
      brand: DEMO_SPORTS_BRAND.id,
      type: 'mailchimp',
      settings: {
        apiKey: '0123456789abcdef0123456789abcdef-us21',
        // The audience DEMO_SANDBOX_CONFIG.mailchimp gives the sandbox's Mailchimp.
        listId: 'summit-members',
        baseUrl: `${root}/mailchimp`,
        // Mailchimp refuses a member carrying a merge tag its audience lacks, so only these are sent.
        mergeFieldMapping: { loyalty_tier: 'TIER', points_balance: 'POINTS' },
        withoutGrant: 'minimal',
      },
      mappings: { conditions: MARKETING_CONDITIONS, mappings: TIER_AND_POINTS, segments: [VIP_SEGMENT] },
      // Names and address reach FNAME, LNAME and ADDRESS; the plugin's other fields have no merge tag.
      plugins: [{ name: 'profile-sync' }],
    },
  ];
  const types = options.destinationTypes ?? 'all';
  if (types === 'all') return { destinations: all };
  const destinations = all.filter((destination) => types.includes(destination['type'] as string));
  const left = all.filter((destination) => !destinations.includes(destination));
  return {
    destinations,
    ...(left.length === 0
      ? {}
      : {
          note: `the demo leaves out ${left.map((destination) => `${String(destination['id'])} (${String(destination['type'])})`).join(', ')}: TESSERA_DESTINATIONS does not run their type`,
        }),
  };
}
