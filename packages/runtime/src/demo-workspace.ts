import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkspaceDefinition } from './workspace-file';

export const DEMO_CREDENTIALS_FILE = 'demo-credentials.json';

export interface DemoCredentials {
  note: string;
  createdAt: string;
  brand: { id: string; name: string; defaultCountry: string };
  sources: Array<{ id: string; brand: string; secret: string; typeMap: Record<string, string> }>;
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The demo workspace an embedded first start creates, so a newcomer can post a signed event at once.
 * Its credentials live in the data folder (mode 0600) and are reused on every later start.
 */
export function ensureDemoWorkspace(dataDir: string): {
  workspace: WorkspaceDefinition;
  file: string;
  created: boolean;
} {
  const file = join(dataDir, DEMO_CREDENTIALS_FILE);
  let created = false;
  if (!existsSync(file)) {
    const credentials: DemoCredentials = {
      note: 'Demo workspace created by the first embedded start of Tessera. Keep this file private.',
      createdAt: new Date().toISOString(),
      brand: { id: 'demo', name: 'Demo Brand', defaultCountry: 'GB' },
      sources: [
        {
          id: 'demo-loyalty',
          brand: 'demo',
          secret: newWebhookSecret(),
          typeMap: {
            points_earned: 'points.updated',
            tier_upgraded: 'tier.changed',
            member_updated: 'profile.updated',
          },
        },
      ],
    };
    writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  }
  const credentials = JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials;
  return {
    file,
    created,
    workspace: {
      brands: [credentials.brand],
      sources: credentials.sources.map(({ id, brand, secret, typeMap }) => ({
        id,
        brand,
        secrets: [secret],
        typeMap,
      })),
      destinations: [],
    },
  };
}
