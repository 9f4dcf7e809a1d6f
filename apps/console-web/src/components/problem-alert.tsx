import type { ApiIssue } from '../api-types';

/**
 * What went wrong, announced as an alert: a summary line and/or the problems at JSON Pointers, one per line as
 * `path — message`. Renders nothing when there is nothing to say.
 */
export function ProblemAlert({
  summary,
  issues = [],
}: {
  summary?: string | undefined;
  issues?: ApiIssue[];
}) {
  if (!summary && issues.length === 0) return null;
  return (
    <div role="alert" className="problems">
      {summary ? <p>{summary}</p> : null}
      {issues.length > 0 ? (
        <ul>
          {issues.map((issue, index) => (
            <li key={`${issue.path}-${index}`}>
              <code>{issue.path || '/'}</code> — {issue.message}
              {issue.expression ? (
                <>
                  {' '}
                  (expression <code>{issue.expression}</code>)
                </>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
