import type { ValidationIssue } from '@tessera/events';

/**
 * The preview's input is wrong (an unknown event type, data the event catalog refuses, an event of another
 * brand): the console answers 400 with these issues, each a JSON Pointer into the request and a sentence.
 */
export class PreviewInputError extends Error {
  /** The first issue's pointer, e.g. `/event/data/new_balance`. */
  readonly path: string;

  constructor(readonly issues: readonly ValidationIssue[]) {
    super(issues.map((issue) => `${issue.path || '/'} ${issue.message}`).join('; '));
    this.name = 'PreviewInputError';
    this.path = issues[0]?.path ?? '';
  }
}

/** The stored event to preview with is not in the raw event log (never received, or past its retention). */
export class PreviewEventNotFoundError extends Error {
  constructor(readonly key: { sourceId?: string; source: string; id: string }) {
    super(
      `no stored event ${key.source}/${key.id}${key.sourceId === undefined ? '' : ` from source ${key.sourceId}`}`,
    );
    this.name = 'PreviewEventNotFoundError';
  }
}
