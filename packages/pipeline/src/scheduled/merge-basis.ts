import type { ProfileMerge } from '@tessera/destination-kit';

/** Edge kinds that prove one person by themselves: a shared strong identifier, a member's own link, a migration. */
const DETERMINISTIC_EDGES = new Set(['event', 'link', 'bulk']);
/** Edge kinds a person decided: an operator's merge, an approved review. */
const HUMAN_EDGES = new Set(['manual', 'review']);

/**
 * The basis of a merge, from the kinds of the edges that joined the two profiles (the lineage's `edge_ids`):
 * the strongest evidence wins, because any one of those edges alone made the join. A merge without edges is
 * a re-key (the same identifiers took an older anchor's id): deterministic. Anything else — a probabilistic
 * edge, or a kind this code does not know — is probabilistic, which irreversible ESP merges refuse.
 */
export function mergeBasisOf(edgeKinds: readonly string[]): ProfileMerge['basis'] {
  if (edgeKinds.length === 0) return 'deterministic';
  if (edgeKinds.some((kind) => DETERMINISTIC_EDGES.has(kind))) return 'deterministic';
  if (edgeKinds.some((kind) => HUMAN_EDGES.has(kind))) return 'human';
  return 'probabilistic';
}
