import { brazeTime } from './braze-emulator-http';

/** A user as the emulator holds it: identifiers plus every attribute set through /users/track. */
export interface BrazeStoredUser {
  /** Unset for an alias-only user (a guest). */
  external_id?: string;
  user_aliases?: { alias_name: string; alias_label: string }[];
  email?: string;
  phone?: string;
  attributes: Record<string, unknown>;
}

export type EmailSubscriptionState = 'opted_in' | 'subscribed' | 'unsubscribed';

export interface BrazeEmulatorState {
  users: BrazeStoredUser[];
  /** Global email subscription state by address. */
  emailSubscriptions: Record<string, EmailSubscriptionState>;
  /** Subscription group id → external id → state. */
  subscriptionGroups: Record<string, Record<string, 'subscribed' | 'unsubscribed'>>;
  /** External ids deleted through /users/delete, in order. */
  deletions: string[];
  /** What GET /email/unsubscribes reports, oldest first. */
  unsubscribes: { email: string; unsubscribed_at: string }[];
  /** Emails marked hard-bounced (by /email/blocklist), until /email/bounce/remove. */
  hardBounces: string[];
  /** Irreversible joins, in order: aliases identified and users merged. */
  merges: { kind: 'identify' | 'merge'; merged: string; kept: string }[];
}

/** Everything the emulated Braze holds; the route handlers read and change it. */
export class BrazeWorkspace {
  /** By external id, or `alias:{label}:{name}` for an alias-only user. */
  readonly users = new Map<string, BrazeStoredUser>();
  readonly emailSubscriptions = new Map<string, EmailSubscriptionState>();
  readonly groups = new Map<string, Map<string, 'subscribed' | 'unsubscribed'>>();
  readonly hardBounces = new Set<string>();
  deletions: string[] = [];
  unsubscribes: { email: string; unsubscribed_at: string; atMs: number }[] = [];
  merges: BrazeEmulatorState['merges'] = [];

  /** Records an opt-out the way GET /email/unsubscribes reports it. */
  markEmailUnsubscribed(email: string, atMs: number): void {
    this.emailSubscriptions.set(email, 'unsubscribed');
    this.unsubscribes.push({ email, unsubscribed_at: brazeTime(atMs), atMs });
    this.unsubscribes.sort((a, b) => a.atMs - b.atMs);
  }

  state(): BrazeEmulatorState {
    return structuredClone({
      users: [...this.users.values()],
      emailSubscriptions: Object.fromEntries(this.emailSubscriptions),
      subscriptionGroups: Object.fromEntries(
        [...this.groups].map(([group, members]) => [group, Object.fromEntries(members)]),
      ),
      deletions: this.deletions,
      unsubscribes: this.unsubscribes.map(({ email, unsubscribed_at }) => ({ email, unsubscribed_at })),
      hardBounces: [...this.hardBounces],
      merges: this.merges,
    });
  }

  reset(): void {
    this.users.clear();
    this.emailSubscriptions.clear();
    this.groups.clear();
    this.hardBounces.clear();
    this.deletions = [];
    this.unsubscribes = [];
    this.merges = [];
  }
}

export function aliasKey(name: string, label: string): string {
  return `alias:${label}:${name}`;
}
