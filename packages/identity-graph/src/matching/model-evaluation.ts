import { DEFAULT_MATCH_MODEL, type MatchModel } from './match-model';
import type { MatchProfile } from './match-profile';
import { scorePair, type TermFrequencies } from './pair-scoring';

export interface LabelledPair {
  a: MatchProfile;
  b: MatchProfile;
  label: 'match' | 'non-match';
  note: string;
}

export interface ModelEvaluation {
  /** Of the pairs auto-merged, the share that are truly the same person (1 when nothing was merged). */
  precision: number;
  /** Of the true matches, the share auto-merged (1 when there are no true matches). */
  recall: number;
  /** Of the true matches, the share auto-merged or sent to review: what a reviewer can still catch. */
  recallWithReview: number;
  autoMerged: number;
  reviewed: number;
  unmatched: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  byPair: Array<{ note: string; label: string; decision: string; score: number }>;
}

/**
 * Scores labelled pairs. Only a 'match' decision is a positive prediction — it merges without a human — so a
 * true match sent to review is a false negative for recall, and is counted again in recallWithReview.
 */
export function evaluateModel(
  pairs: LabelledPair[],
  model: MatchModel = DEFAULT_MATCH_MODEL,
  frequencies?: TermFrequencies,
): ModelEvaluation {
  const byPair = pairs.map(({ a, b, label, note }) => {
    const { score, decision } = scorePair(a, b, model, frequencies);
    return { note, label, decision, score };
  });
  const count = (predicate: (pair: (typeof byPair)[number]) => boolean) => byPair.filter(predicate).length;

  const truePositives = count((pair) => pair.decision === 'match' && pair.label === 'match');
  const falsePositives = count((pair) => pair.decision === 'match' && pair.label === 'non-match');
  const falseNegatives = count((pair) => pair.decision !== 'match' && pair.label === 'match');
  const reviewedMatches = count((pair) => pair.decision === 'review' && pair.label === 'match');
  const labelledMatches = truePositives + falseNegatives;
  return {
    precision: ratio(truePositives, truePositives + falsePositives),
    recall: ratio(truePositives, labelledMatches),
    recallWithReview: ratio(truePositives + reviewedMatches, labelledMatches),
    autoMerged: count((pair) => pair.decision === 'match'),
    reviewed: count((pair) => pair.decision === 'review'),
    unmatched: count((pair) => pair.decision === 'non-match'),
    truePositives,
    falsePositives,
    falseNegatives,
    byPair,
  };
}

// An empty denominator means nothing went wrong (no merge to be false, no match to miss), hence 1.
function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 1 : numerator / denominator;
}

/** A summary line and a markdown table of every pair, for the docs. */
export function formatEvaluation(evaluation: ModelEvaluation): string {
  const summary =
    `Auto-merge precision ${evaluation.precision.toFixed(2)}, recall ${evaluation.recall.toFixed(2)} ` +
    `(${evaluation.recallWithReview.toFixed(2)} counting review); ` +
    `${evaluation.autoMerged} auto-merged, ${evaluation.reviewed} to review, ${evaluation.unmatched} left apart.`;
  const rows = evaluation.byPair.map(
    (pair, index) =>
      `| ${index + 1} | ${pair.label} | ${pair.decision} | ${pair.score.toFixed(1)} | ${pair.note.replace(/\|/g, '\\|')} |`,
  );
  return [
    summary,
    '',
    '| # | Label | Decision | Score | Note |',
    '| ---: | --- | --- | ---: | --- |',
    ...rows,
  ].join('\n');
}
