import { useState, type FormEvent } from 'react';
import { LoadState } from '../components/load-state';
import { useConsole } from '../console-context';
import type { AuditEntry } from '../api-types';
import { compactJson, formatDateTime } from '../display-format';
import { useApiResource } from '../use-api-resource';

/** The change of an entry: `before → after`, or, for an act recorded otherwise, its detail as it is. */
function ChangeOf({ detail }: { detail: AuditEntry['detail'] }) {
  if (detail !== null && ('before' in detail || 'after' in detail)) {
    return (
      <>
        <code>{compactJson(detail.before)}</code> → <code>{compactJson(detail.after)}</code>
      </>
    );
  }
  return <code>{compactJson(detail)}</code>;
}

interface AuditFilters {
  action: string;
  actor: string;
  limit: number;
}

/** Who did what: every entry of the audit log, newest first as the API returns them. */
export function AuditScreen() {
  const { api } = useConsole();
  const [form, setForm] = useState<AuditFilters>({ action: '', actor: '', limit: 100 });
  const [query, setQuery] = useState<AuditFilters>(form);
  const audit = useApiResource(() => api.audit(query), JSON.stringify(query));
  const entries = audit.data?.entries ?? [];

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setQuery({ ...form });
  }

  return (
    <>
      <h1>Audit log</h1>
      <form className="filters" onSubmit={apply} aria-label="Audit filters">
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <input
            id="audit-action"
            type="search"
            value={form.action}
            onChange={(event) => setForm({ ...form, action: event.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-actor">Actor</label>
          <input
            id="audit-actor"
            type="search"
            value={form.actor}
            onChange={(event) => setForm({ ...form, actor: event.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-limit">Entries</label>
          <input
            id="audit-limit"
            type="number"
            min={1}
            max={1000}
            value={form.limit}
            onChange={(event) => setForm({ ...form, limit: Number(event.target.value) || 100 })}
          />
        </div>
        <button type="submit">Apply filters</button>
      </form>
      <LoadState loading={audit.loading} error={audit.error} />
      <table>
        <caption>Audit entries ({entries.length})</caption>
        <thead>
          <tr>
            <th scope="col">At</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Entity / id</th>
            <th scope="col">Before → after</th>
          </tr>
        </thead>
        <tbody>
          {entries.length === 0 && !audit.loading ? (
            <tr>
              <td colSpan={5}>No entries.</td>
            </tr>
          ) : null}
          {entries.map((entry) => (
            <tr key={String(entry.id)}>
              <td>
                <time dateTime={entry.at}>{formatDateTime(entry.at)}</time>
              </td>
              <td>{entry.actor}</td>
              <td>{entry.action}</td>
              <td>
                {entry.detail?.entity ?? ''}
                {entry.detail?.id ? ` / ${entry.detail.id}` : ''}
                {entry.customerId ? ` (customer ${entry.customerId})` : ''}
              </td>
              <td className="wrap">
                <ChangeOf detail={entry.detail} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
