import { JsonBlock } from './json-block';

/** Every field of a record as a description list: text as text, anything structured as JSON. */
export function RecordFields({ record, label }: { record: Record<string, unknown>; label: string }) {
  return (
    <dl className="record" aria-label={label}>
      {Object.entries(record).map(([field, value]) => (
        <div key={field}>
          <dt>{field}</dt>
          <dd>
            {value !== null && typeof value === 'object' ? (
              <JsonBlock value={value} label={field} />
            ) : value === null || value === undefined || value === '' ? (
              '—'
            ) : (
              String(value)
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}
