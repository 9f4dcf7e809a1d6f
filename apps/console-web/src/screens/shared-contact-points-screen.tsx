import { useState } from 'react';
import { errorMessageOf } from '../api-client';
import type { SharedIdentifier } from '../api-types';
import { LoadState } from '../components/load-state';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { formatDateTime } from '../display-format';
import { useApiResource } from '../use-api-resource';

const PAGE = 50;

/**
 * Contact points two members share (a family email): each stays with the member who had it first and links
 * nothing to the other. Values masked without pii.read (the API decides).
 */
export function SharedContactPointsScreen() {
  const { api } = useConsole();
  const first = useApiResource(() => api.sharedIdentifiers({ limit: PAGE }), 'shared-identifiers');
  const [more, setMore] = useState<SharedIdentifier[]>([]);
  const [next, setNext] = useState<number | null | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const rows = [...(first.data?.sharedIdentifiers ?? []), ...more];
  const after = next === undefined ? (first.data?.nextAfter ?? null) : next;

  async function loadMore() {
    if (after === null) return;
    setBusy(true);
    setProblem(undefined);
    try {
      const page = await api.sharedIdentifiers({ limit: PAGE, after });
      setMore((known) => [...known, ...page.sharedIdentifiers]);
      setNext(page.nextAfter);
    } catch (failure) {
      setProblem(`Could not load more shared contact points: ${errorMessageOf(failure)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h1>Shared contact points</h1>
      <p>
        An email or phone two members share stays with the member who had it first and links nothing to the
        other.
      </p>
      <ProblemAlert summary={problem} />
      <LoadState loading={first.loading} error={first.error} />
      <table>
        <caption>Contact points shared by two members ({rows.length})</caption>
        <thead>
          <tr>
            <th scope="col">Case</th>
            <th scope="col">Contact point</th>
            <th scope="col">Links nothing to</th>
            <th scope="col">Held by</th>
            <th scope="col">Reason</th>
            <th scope="col">First seen</th>
            <th scope="col">Last seen</th>
            <th scope="col">Events</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && !first.loading ? (
            <tr>
              <td colSpan={8}>No shared contact points.</td>
            </tr>
          ) : null}
          {rows.map((row) => (
            <tr key={String(row.id)}>
              <th scope="row">{row.id}</th>
              <td>
                {row.label} {row.value}
              </td>
              <td>{row.customerId}</td>
              <td>{row.heldBy}</td>
              <td>{row.reason}</td>
              <td>{formatDateTime(row.firstSeenAt)}</td>
              <td>{formatDateTime(row.lastSeenAt)}</td>
              <td>{row.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {after !== null && rows.length > 0 ? (
        <button type="button" disabled={busy} onClick={() => void loadMore()}>
          Load more
        </button>
      ) : null}
    </>
  );
}
