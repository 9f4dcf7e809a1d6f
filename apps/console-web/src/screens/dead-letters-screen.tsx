import { useEffect, useRef, useState, type FormEvent } from 'react';
import { errorMessageOf } from '../api-client';
import { ERROR_CLASSES, type DeadLetter, type DeadLetterQuery } from '../api-types';
import { LoadState } from '../components/load-state';
import { ProblemAlert } from '../components/problem-alert';
import { RecordFields } from '../components/record-fields';
import { useConsole } from '../console-context';
import { formatDateTime } from '../display-format';
import { useApiResource } from '../use-api-resource';

const EMPTY_FILTERS: DeadLetterQuery = {
  brand: '',
  destination: '',
  errorClass: '',
  error: '',
  includeReplayed: false,
};

/** Dead letters: filter, inspect, and (with the permission) replay or discard the selected ones. */
export function DeadLettersScreen() {
  const { api, can, destinations } = useConsole();
  const mayReplay = can('dead-letters.replay');
  const [form, setForm] = useState<DeadLetterQuery>(EMPTY_FILTERS);
  const [query, setQuery] = useState<DeadLetterQuery>(EMPTY_FILTERS);
  const letters = useApiResource(() => api.deadLetters({ ...query, limit: 200 }), JSON.stringify(query));
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [discardReason, setDiscardReason] = useState('');
  const [status, setStatus] = useState('');
  const [detailStatus, setDetailStatus] = useState('');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [inspected, setInspected] = useState<string | undefined>(undefined);

  const rows = letters.data?.letters ?? [];
  const brands = [...new Set((destinations ?? []).map((destination) => destination.brand))];
  const selectedIds = rows.map((letter) => letter.id).filter((id) => selected.has(String(id)));

  function applyFilters(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setSelected(new Set());
    setQuery({ ...form });
  }

  function toggle(id: string, on: boolean) {
    setSelected((previous) => {
      const next = new Set(previous);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  }

  async function replay() {
    if (selectedIds.length === 0) return;
    setBusy(true);
    setProblem(undefined);
    setStatus('Replaying…');
    setDetailStatus('');
    try {
      const outcome = await api.replayDeadLetters(selectedIds);
      setStatus(`Replayed ${outcome.replayed}, already delivered ${outcome.alreadyDelivered}`);
      const skipped = outcome.skipped.reduce((sum, entry) => sum + entry.letters, 0);
      setDetailStatus(
        `Not waiting: ${outcome.notWaiting.length}; skipped: ${skipped}.${
          outcome.skipped.length > 0
            ? ` Left waiting (not run by this deployment): ${outcome.skipped
                .map((entry) => `${entry.destinationId} (${entry.letters})`)
                .join(', ')}.`
            : ''
        }`,
      );
      setSelected(new Set());
      await letters.reload();
    } catch (failure) {
      setStatus('');
      setProblem(`Could not replay: ${errorMessageOf(failure)}`);
    } finally {
      setBusy(false);
    }
  }

  async function discard() {
    if (selectedIds.length === 0) return;
    if (discardReason.trim() === '') {
      setProblem('Give a reason to discard dead letters.');
      return;
    }
    setBusy(true);
    setProblem(undefined);
    setStatus('Discarding…');
    setDetailStatus('');
    try {
      const outcome = await api.discardDeadLetters(selectedIds, discardReason.trim());
      setStatus(
        `Discarded ${outcome.discarded.length}${
          outcome.notWaiting.length > 0 ? `; not waiting: ${outcome.notWaiting.join(', ')}` : ''
        }`,
      );
      setSelected(new Set());
      await letters.reload();
    } catch (failure) {
      setStatus('');
      setProblem(`Could not discard: ${errorMessageOf(failure)}`);
    } finally {
      setBusy(false);
    }
  }

  const update = (patch: Partial<DeadLetterQuery>) => setForm((previous) => ({ ...previous, ...patch }));
  const allSelected = rows.length > 0 && selectedIds.length === rows.length;

  return (
    <>
      <h1>Dead letters</h1>
      <form className="filters" onSubmit={applyFilters} aria-label="Dead letter filters">
        <div className="field">
          <label htmlFor="dl-brand">Brand</label>
          <select
            id="dl-brand"
            value={form.brand}
            onChange={(event) => update({ brand: event.target.value })}
          >
            <option value="">Any brand</option>
            {brands.map((brand) => (
              <option key={brand} value={brand}>
                {brand}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="dl-destination">Destination</label>
          <select
            id="dl-destination"
            value={form.destination}
            onChange={(event) => update({ destination: event.target.value })}
          >
            <option value="">Any destination</option>
            {(destinations ?? []).map((destination) => (
              <option key={destination.id} value={destination.id}>
                {destination.id}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="dl-error-class">Error class</label>
          <select
            id="dl-error-class"
            value={form.errorClass}
            onChange={(event) => update({ errorClass: event.target.value })}
          >
            <option value="">Any class</option>
            {ERROR_CLASSES.map((errorClass) => (
              <option key={errorClass} value={errorClass}>
                {errorClass}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="dl-error">Error contains</label>
          <input
            id="dl-error"
            type="search"
            value={form.error}
            onChange={(event) => update({ error: event.target.value })}
          />
        </div>
        <div className="field checkbox">
          <input
            id="dl-include-replayed"
            type="checkbox"
            checked={form.includeReplayed ?? false}
            onChange={(event) => update({ includeReplayed: event.target.checked })}
          />
          <label htmlFor="dl-include-replayed">Include replayed</label>
        </div>
        <button type="submit">Apply filters</button>
      </form>

      {mayReplay ? (
        <div className="actions" role="group" aria-label="Act on the selected dead letters">
          <button type="button" onClick={() => void replay()} disabled={busy || selectedIds.length === 0}>
            Replay selected
          </button>
          <div className="field inline">
            <label htmlFor="dl-discard-reason">Discard reason</label>
            <input
              id="dl-discard-reason"
              type="text"
              value={discardReason}
              onChange={(event) => setDiscardReason(event.target.value)}
            />
          </div>
          <button type="button" onClick={() => void discard()} disabled={busy || selectedIds.length === 0}>
            Discard selected
          </button>
        </div>
      ) : null}
      <p role="status" className="status" id="dead-letter-status">
        {status}
      </p>
      <p className="muted">{detailStatus}</p>
      <ProblemAlert summary={problem} />
      <LoadState loading={letters.loading} error={letters.error} />

      <table>
        <caption>
          Dead letters ({rows.length}
          {mayReplay ? `, ${selectedIds.length} selected` : ''})
        </caption>
        <thead>
          <tr>
            {mayReplay ? (
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all dead letters"
                  checked={allSelected}
                  onChange={(event) =>
                    setSelected(
                      event.target.checked ? new Set(rows.map((letter) => String(letter.id))) : new Set(),
                    )
                  }
                />
              </th>
            ) : null}
            <th scope="col">ID</th>
            <th scope="col">Destination</th>
            <th scope="col">Operation</th>
            <th scope="col">Error class</th>
            <th scope="col">Error</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last failed</th>
            <th scope="col">Inspect</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && !letters.loading ? (
            <tr>
              <td colSpan={mayReplay ? 9 : 8}>No dead letters match.</td>
            </tr>
          ) : null}
          {rows.map((letter) => (
            <DeadLetterRow
              key={String(letter.id)}
              letter={letter}
              selectable={mayReplay}
              selected={selected.has(String(letter.id))}
              onSelect={(on) => toggle(String(letter.id), on)}
              onInspect={() => setInspected(String(letter.id))}
            />
          ))}
        </tbody>
      </table>

      {inspected !== undefined ? (
        <DeadLetterDetail id={inspected} onClose={() => setInspected(undefined)} />
      ) : null}
    </>
  );
}

interface DeadLetterRowProps {
  letter: DeadLetter;
  selectable: boolean;
  selected: boolean;
  onSelect(on: boolean): void;
  onInspect(): void;
}

function DeadLetterRow({ letter, selectable, selected, onSelect, onInspect }: DeadLetterRowProps) {
  return (
    <tr>
      {selectable ? (
        <td>
          <input
            type="checkbox"
            aria-label={`Select dead letter ${letter.id}`}
            checked={selected}
            onChange={(event) => onSelect(event.target.checked)}
          />
        </td>
      ) : null}
      <th scope="row">{letter.id}</th>
      <td>{letter.destinationId}</td>
      <td>{letter.operation}</td>
      <td>{letter.errorClass}</td>
      <td className="wrap">{letter.error}</td>
      <td>{letter.attempts}</td>
      <td>{formatDateTime(letter.lastFailedAt)}</td>
      <td>
        <button type="button" onClick={onInspect} aria-label={`Inspect dead letter ${letter.id}`}>
          Inspect
        </button>
      </td>
    </tr>
  );
}

function DeadLetterDetail({ id, onClose }: { id: string; onClose(): void }) {
  const { api } = useConsole();
  const letter = useApiResource(() => api.deadLetter(id), `dead-letter:${id}`);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [id]);

  return (
    <section aria-labelledby="dead-letter-detail-heading" className="detail">
      <h2 id="dead-letter-detail-heading" ref={heading} tabIndex={-1}>
        Dead letter {id}
      </h2>
      <LoadState loading={letter.loading} error={letter.error} />
      {letter.data ? <RecordFields record={letter.data} label={`Fields of dead letter ${id}`} /> : null}
      <button type="button" onClick={onClose}>
        Close dead letter {id}
      </button>
    </section>
  );
}
