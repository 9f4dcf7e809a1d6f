import { createHash } from 'node:crypto';
import { planInboundUnsubscribes, type ConsentLedger, type SuppressionList } from '@tessera/consent';
import type { InboundUnsubscribe } from '@tessera/destination-kit';
import type { IdentityGraph } from '@tessera/identity-graph';
import type { DeliveryItem } from '@tessera/queues';
import type { PiiVault } from '@tessera/store';
import type { DestinationDirectory } from '../destination-directory';

export interface InboundSyncOutcome {
  /** Withdrawals appended to the consent ledger (repeats of an ESP event are not counted). */
  recorded: number;
  suppressed: number;
  /** Operations handed to the brand's other destinations. */
  forwarded: number;
  /** Opt-outs whose contact point matches no profile: recorded in the ledger, carried nowhere. */
  unmatched: number;
}

export interface InboundSyncOptions {
  directory: DestinationDirectory;
  graph: Pick<IdentityGraph, 'resolveReference' | 'store' | 'defaultCountry'>;
  ledger: Pick<ConsentLedger, 'append'>;
  suppressions: Pick<SuppressionList, 'suppress'>;
  vault: PiiVault;
  deliver(destinationId: string, items: DeliveryItem[]): Promise<void>;
  now?: () => Date;
}

/**
 * Two-way sync, Tessera side: opt-outs one ESP reported (a webhook or a poll) go into the consent ledger (and
 * ESP suppressions into the suppression list), and out to the brand's other destinations as `unsubscribe` /
 * `suppress`, so an opt-out in one ESP is an opt-out in all of them. Opt-outs that name no customer are
 * matched to a profile by their contact point first. Idempotent: the ledger dedupes on the ESP's event id and
 * the forwarded items have deterministic keys.
 */
export class InboundSync {
  private readonly now: () => Date;

  constructor(private readonly options: InboundSyncOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async handle(destinationId: string, changes: InboundUnsubscribe[]): Promise<InboundSyncOutcome> {
    const { directory, graph } = this.options;
    const destination = directory.get(destinationId);
    if (destination === undefined) throw new Error(`Unknown destination "${destinationId}"`);
    const matched = await this.matchCustomers(changes);
    const plan = planInboundUnsubscribes(matched, {
      vault: this.options.vault,
      defaultCountry: graph.defaultCountry(destination.brand),
      brand: destination.brand,
      destinationId,
      receivedAt: this.now(),
      brandDestinations: directory.destinationsOf(destination.brand).map((candidate) => candidate.id),
    });
    const appended = plan.entries.length > 0 ? await this.options.ledger.append(plan.entries) : undefined;
    const suppressed =
      plan.suppressions.length > 0 ? await this.options.suppressions.suppress(plan.suppressions) : 0;
    const byDestination = new Map<string, DeliveryItem[]>();
    const receivedAt = this.now().toISOString();
    for (const routed of plan.operations) {
      const items = byDestination.get(routed.destinationId) ?? [];
      const item = routed.operation.item as { customerId: string };
      items.push({
        operation: routed.operation,
        itemKey: createHash('sha256')
          .update(
            `inbound\u0000${destinationId}\u0000${routed.destinationId}\u0000${routed.operation.operation}\u0000${JSON.stringify(routed.operation.item)}`,
          )
          .digest('base64url')
          .slice(0, 32),
        customerId: item.customerId,
        receivedAt,
        attempts: 0,
      });
      byDestination.set(routed.destinationId, items);
    }
    for (const [target, items] of byDestination) await this.options.deliver(target, items);
    return {
      recorded: appended?.appended ?? 0,
      suppressed,
      forwarded: plan.operations.length,
      unmatched: plan.unresolved.length,
    };
  }

  /** Fills in the customer id of opt-outs that carry only a contact point, from the identity graph. */
  private async matchCustomers(changes: InboundUnsubscribe[]): Promise<InboundUnsubscribe[]> {
    const { graph } = this.options;
    const matched: InboundUnsubscribe[] = [];
    for (const change of changes) {
      if (change.customerId !== undefined) {
        matched.push(change);
        continue;
      }
      const contact = change.channel === 'email' ? change.email : change.phone;
      const type = change.channel === 'email' ? 'email' : 'phone';
      let customerId: string | undefined;
      if (contact !== undefined) {
        try {
          customerId = await graph.resolveReference(graph.store, `${type}:${contact}`);
        } catch {
          customerId = undefined; // a contact point that does not normalize matches no profile
        }
      }
      matched.push(customerId === undefined ? change : { ...change, customerId });
    }
    return matched;
  }
}
