export { blockingKeys, candidatePairs } from './candidate-blocking';
export { LABELLED_PAIRS } from './labelled-pairs.fixture';
export {
  AGREEMENT_LEVELS,
  type AgreementLevel,
  COMPARED_FIELDS,
  type ComparedField,
  type ComparisonLevel,
  type ComparisonWeights,
  DEFAULT_MATCH_MODEL,
  type MatchModel,
  MatchModelError,
  type ComparisonOverrides,
  type MatchModelOverrides,
  matchModel,
} from './match-model';
// normalizeName is public so a store-backed TermFrequencies keys names as scorePair looks them up.
export { type MatchProfile, normalizeName, normalizePostcode, phoneticKey } from './match-profile';
export { evaluateModel, formatEvaluation, type LabelledPair, type ModelEvaluation } from './model-evaluation';
export {
  type ComparisonResult,
  type NameField,
  type PairScore,
  scorePair,
  type TermFrequencies,
  termFrequenciesFrom,
} from './pair-scoring';
