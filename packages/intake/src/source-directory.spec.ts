import { randomBytes } from 'node:crypto';
import { signedHeaders, waitFor } from '@tessera/testing';
import { type RegisteredSource, ReloadingSourceDirectory } from './source-directory';
import { WebhookSignatureVerifier } from './webhook-signature';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

const source = (id: string, secrets: string[]): RegisteredSource => ({
  id,
  brand: 'sd',
  secrets,
  typeMap: {},
  rateLimit: 100,
});

/** A stand-in for the store: its sources, a revision that moves on every change, and an outage switch. */
class SourceShelf {
  sources: RegisteredSource[] = [];
  revision = 0;
  down = false;
  loads = 0;

  change(sources: RegisteredSource[]): void {
    this.sources = sources;
    this.revision += 1;
  }

  async fingerprint(): Promise<string> {
    if (this.down) throw new Error('connection refused');
    return String(this.revision);
  }

  async load(): Promise<RegisteredSource[]> {
    if (this.down) throw new Error('connection refused');
    this.loads += 1;
    return this.sources.map((entry) => ({ ...entry, secrets: [...entry.secrets] }));
  }
}

describe('ReloadingSourceDirectory', () => {
  const verifier = new WebhookSignatureVerifier();
  const body = Buffer.from('[]');
  let shelf: SourceShelf;
  let failures: string[];
  let directory: ReloadingSourceDirectory;
  const original = newSecret();

  beforeEach(() => {
    shelf = new SourceShelf();
    shelf.change([source('loyalty', [original])]);
    failures = [];
    directory = new ReloadingSourceDirectory({
      initial: shelf.sources,
      load: () => shelf.load(),
      fingerprint: () => shelf.fingerprint(),
      intervalMs: 20,
      onReloadFailed: (error) => failures.push(error.message),
    });
  });

  afterEach(() => directory.close());

  const verifies = (sourceId: string, secret: string) => {
    const found = directory.find(sourceId);
    if (found === undefined) return 'unknown source';
    return verifier.verify(found.secrets, signedHeaders(secret, body), body).ok;
  };

  it('serves the initial sources before any reload, without touching the store', () => {
    expect(verifies('loyalty', original)).toBe(true);
    expect(directory.find('pos')).toBeUndefined();
    expect(shelf.loads).toBe(0);
  });

  it('follows the store within the interval: a new source, a rotated secret, then the old one revoked', async () => {
    directory.start();
    const rotated = newSecret();
    shelf.change([source('loyalty', [rotated, original]), source('pos', [newSecret()])]);
    await waitFor(
      () => directory.find('pos'),
      (found) => found !== undefined,
      'the new source',
    );
    expect(verifies('loyalty', rotated)).toBe(true);
    expect(verifies('loyalty', original)).toBe(true); // both verify while the rotation is under way

    shelf.change([source('loyalty', [rotated]), source('pos', [newSecret()])]);
    await waitFor(
      () => verifies('loyalty', original),
      (ok) => ok === false,
      'the old secret refused',
    );
    expect(verifies('loyalty', rotated)).toBe(true);

    shelf.change([source('loyalty', [rotated])]);
    await waitFor(
      () => directory.find('pos'),
      (found) => found === undefined,
      'the removed source gone',
    );
  });

  it('loads only when the fingerprint moved', async () => {
    await directory.reload();
    await directory.reload();
    await directory.reload();
    expect(shelf.loads).toBe(1);
    shelf.change([source('loyalty', [original]), source('pos', [newSecret()])]);
    await directory.reload();
    expect(shelf.loads).toBe(2);
  });

  it('keeps the last sources while the store is down, reports the failure, and catches up once it is back', async () => {
    directory.start();
    await waitFor(
      () => shelf.loads,
      (loads) => loads === 1,
      'the first reload',
    );
    shelf.down = true;
    await waitFor(
      () => failures.length,
      (count) => count >= 2,
      'reload failures reported',
    );
    expect(failures[0]).toBe('connection refused');
    expect(verifies('loyalty', original)).toBe(true);

    const rotated = newSecret();
    shelf.down = false;
    shelf.change([source('loyalty', [rotated])]);
    await waitFor(
      () => verifies('loyalty', rotated),
      (ok) => ok === true,
      'the rotated secret after the outage',
    );
    expect(verifies('loyalty', original)).toBe(false);
  });

  it('never blocks find on a slow store: requests see the last finished map until the swap', async () => {
    let release: (() => void) | undefined;
    const slow = new ReloadingSourceDirectory({
      initial: [source('loyalty', [original])],
      fingerprint: async () => 'moved',
      load: () =>
        new Promise<RegisteredSource[]>((resolve) => {
          release = () => resolve([source('pos', [newSecret()])]);
        }),
    });
    const reloading = slow.reload();
    await waitFor(
      () => release,
      (pending) => pending !== undefined,
      'the load under way',
    );
    expect(slow.find('loyalty')).toBeDefined(); // the load is pending: the old map still answers
    release?.();
    await reloading;
    expect(slow.find('loyalty')).toBeUndefined();
    expect(slow.find('pos')).toBeDefined();
    await slow.close();
  });
});
