import { prettyJson } from '../display-format';

/** A value pretty-printed as JSON, in a focusable, scrollable block. */
export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="json" tabIndex={0} aria-label={label}>
      {prettyJson(value)}
    </pre>
  );
}
