export * from './identifiers';
export * from './matching';
export { IdentityGraph, IdentityChangeRefusedError, IdentityNotFoundError } from './identity-graph';
export type {
  CustomerView,
  IdentityGraphOptions,
  ProfileView,
  ProfileIdentifierView,
  LineageView,
  PlatformMerge,
  PlatformMergeOutcome,
} from './identity-graph';
export { parseProfileReference, ProfileReferenceError, type ProfileReference } from './profile-reference';
export type { IdentityRecord, ResolvedRecord, ResolutionResult } from './resolution/identity-resolver';
export type { SharedIdentifierView } from './resolution/shared-identifier-repository';
export type {
  JoinNotice,
  MergeNotice,
  SplitNotice,
  ChangeCause,
  RecomputeResult,
} from './resolution/component-recompute';
export {
  solveComponents,
  type GraphNode,
  type GraphEdge,
  type EdgeKind,
  type SolvedComponents,
} from './resolution/component-solver';
export {
  PROFILE_TRAITS,
  applyTraits,
  mergeTraits,
  type TraitName,
  type TraitValues,
  type TraitState,
} from './profiles/profile-traits';
export { traitsFromEvent } from './profiles/event-traits';
export { historyCustomerIds } from './profiles/profile-history';
export { MatchReview, type ReviewPair, type MatchRun } from './review/match-review';
export {
  maskName,
  nameReviewPairs,
  type NamedReviewPair,
  type ReviewProfileName,
} from './review/review-names';
export * from './linking';
export * from './bulk';
export { IdentityOutbox, type OutboxEvent } from './outbox/identity-outbox';
export { ERASED_REASON, profileFamily, type ErasureReport } from './erasure/profile-erasure';
