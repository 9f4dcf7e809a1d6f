import type { IdentityGraph } from '../identity-graph';
import { ProfileBook } from '../profiles/profile-book';
import type { ReviewPair } from './match-review';

/** A reviewed profile's name as the review queue shows it. */
export interface ReviewProfileName {
  customerId: string;
  firstName?: string;
  lastName?: string;
}

/** A review pair with the names of its two profiles. */
export type NamedReviewPair = ReviewPair & { profiles: [ReviewProfileName, ReviewProfileName] };

/** A name without `revealPii`: its first character and `***` (as identifiers are masked: `a***@…`). */
export const maskName = (name: string): string => `${[...name.trim()][0] ?? ''}***`;

/**
 * The names of each pair's two profiles (sealed PII: decrypted in one read of both profiles of every pair),
 * in the clear only with `revealPii`. A profile merged since keeps its own row, so each side shows its own name.
 */
export async function nameReviewPairs(
  graph: Pick<IdentityGraph, 'store' | 'vault'>,
  reviews: readonly ReviewPair[],
  options: { revealPii: boolean },
): Promise<NamedReviewPair[]> {
  const book = new ProfileBook(graph.vault);
  await book.load(
    graph.store,
    reviews.flatMap((review) => review.customerIds),
  );
  const shown = (value: unknown): string | undefined =>
    typeof value !== 'string' || value.trim() === ''
      ? undefined
      : options.revealPii
        ? value
        : maskName(value);
  const nameOf = (customerId: string): ReviewProfileName => {
    const values = book.get(customerId).state.values;
    const firstName = shown(values.first_name);
    const lastName = shown(values.last_name);
    return {
      customerId,
      ...(firstName === undefined ? {} : { firstName }),
      ...(lastName === undefined ? {} : { lastName }),
    };
  };
  return reviews.map((review) => ({
    ...review,
    profiles: [nameOf(review.customerIds[0]), nameOf(review.customerIds[1])],
  }));
}
