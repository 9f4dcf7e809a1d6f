import { useState, type FormEvent } from 'react';
import { ApiError, errorMessageOf } from '../api-client';
import type { ApiIssue, Source } from '../api-types';
import { LoadState } from '../components/load-state';
import { ProblemAlert } from '../components/problem-alert';
import { SecretOnce } from '../components/secret-once';
import { useConsole } from '../console-context';
import { formatDateTime } from '../display-format';
import { useApiResource } from '../use-api-resource';

/** Webhook sources: create (the secret once), rotate and revoke secrets, hold and release. */
export function SourcesScreen() {
  const { api, can, destinations } = useConsole();
  const mayCreate = can('workspace.write') && can('secrets.manage');
  const mayManageSecrets = can('secrets.manage');
  const mayHold = can('sources.hold');
  const sources = useApiResource(() => api.sources(), 'sources');
  const brands = useApiResource(() => api.brands(), 'brands');
  const [newSource, setNewSource] = useState({ id: '', brand: '', rateLimit: '' });
  const [reason, setReason] = useState('');
  const [secret, setSecret] = useState<{ title: string; value: string } | undefined>(undefined);
  const [status, setStatus] = useState('');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [issues, setIssues] = useState<ApiIssue[]>([]);

  async function act(what: string, action: () => Promise<void>) {
    setProblem(undefined);
    setIssues([]);
    try {
      await action();
      await sources.reload();
    } catch (failure) {
      setProblem(`Could not ${what}: ${errorMessageOf(failure)}`);
      if (failure instanceof ApiError) setIssues(failure.errors);
    }
  }

  function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const rateLimit = newSource.rateLimit.trim() === '' ? undefined : Number(newSource.rateLimit);
    void act(`create source ${newSource.id}`, async () => {
      const created = await api.createSource({
        id: newSource.id.trim(),
        brand: newSource.brand,
        ...(rateLimit === undefined ? {} : { rateLimit }),
      });
      setSecret({ title: `Signing secret of ${created.source.id}`, value: created.secret });
      setStatus(`Source ${created.source.id} created.`);
      setNewSource({ id: '', brand: '', rateLimit: '' });
    });
  }

  const rotate = (source: Source) =>
    act(`rotate the secret of ${source.id}`, async () => {
      const rotated = await api.rotateSourceSecret(source.id);
      setSecret({ title: `New signing secret of ${source.id}`, value: rotated.secret });
      setStatus(
        `Secret of ${source.id} rotated${
          rotated.previousExpiresAt
            ? `; the previous one stays valid until ${formatDateTime(rotated.previousExpiresAt)}`
            : ''
        }.`,
      );
    });

  const revoke = (source: Source, secretId: string) =>
    act(`revoke secret ${secretId}`, async () => {
      await api.revokeSourceSecret(source.id, secretId);
      setStatus(`Secret ${secretId} of ${source.id} revoked.`);
    });

  const holdOrRelease = (source: Source) =>
    act(`${source.held ? 'release' : 'hold'} ${source.id}`, async () => {
      if (source.held) {
        await api.releaseSource(source.id, reason.trim() || undefined);
        setStatus(`Source ${source.id} released.`);
      } else {
        if (reason.trim() === '') throw new Error('give a reason to hold a source');
        await api.holdSource(source.id, reason.trim());
        setStatus(`Source ${source.id} held.`);
      }
    });

  const brandIds = brands.data?.brands.map((brand) => brand.id) ?? [
    ...new Set((destinations ?? []).map((destination) => destination.brand)),
  ];
  const rows = sources.data?.sources ?? [];

  return (
    <>
      <h1>Sources</h1>
      {secret ? (
        <SecretOnce title={secret.title} secret={secret.value} onDismiss={() => setSecret(undefined)} />
      ) : null}
      <p role="status" className="status">
        {status}
      </p>
      <ProblemAlert summary={problem} issues={issues} />
      {mayHold ? (
        <div className="field">
          <label htmlFor="source-reason">Reason to hold or release</label>
          <input
            id="source-reason"
            type="text"
            value={reason}
            onChange={(event) => setReason(event.target.value)}
          />
        </div>
      ) : null}
      <LoadState loading={sources.loading} error={sources.error} />
      <table>
        <caption>Sources ({rows.length})</caption>
        <thead>
          <tr>
            <th scope="col">Source</th>
            <th scope="col">Brand</th>
            <th scope="col">Rate limit</th>
            <th scope="col">Held</th>
            <th scope="col">Secrets</th>
            {mayManageSecrets || mayHold ? <th scope="col">Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((source) => (
            <tr key={source.id}>
              <th scope="row">{source.id}</th>
              <td>{source.brand}</td>
              <td>{source.rateLimit ?? 'none'}</td>
              <td>{source.held ? `held: ${source.holdReason ?? ''}` : 'no'}</td>
              <td>
                <ul className="plain">
                  {source.secrets.map((entry) => (
                    <li key={entry.id}>
                      <code>{entry.id}</code>, created {formatDateTime(entry.createdAt)}
                      {entry.revokedAt ? `, revoked ${formatDateTime(entry.revokedAt)}` : ''}
                      {!entry.revokedAt && entry.expiresAt
                        ? `, expires ${formatDateTime(entry.expiresAt)}`
                        : ''}
                      {mayManageSecrets && !entry.revokedAt ? (
                        <>
                          {' '}
                          <button type="button" onClick={() => void revoke(source, entry.id)}>
                            Revoke secret {entry.id}
                          </button>
                        </>
                      ) : null}
                    </li>
                  ))}
                </ul>
              </td>
              {mayManageSecrets || mayHold ? (
                <td className="row-actions">
                  {mayManageSecrets ? (
                    <button type="button" onClick={() => void rotate(source)}>
                      Rotate secret of {source.id}
                    </button>
                  ) : null}
                  {mayHold ? (
                    <button type="button" onClick={() => void holdOrRelease(source)}>
                      {source.held ? 'Release' : 'Hold'} {source.id}
                    </button>
                  ) : null}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>

      {mayCreate ? (
        <form onSubmit={create} className="create-form" aria-labelledby="create-source-heading">
          <h2 id="create-source-heading">Create a source</h2>
          <div className="field">
            <label htmlFor="source-id">Source ID</label>
            <input
              id="source-id"
              type="text"
              required
              value={newSource.id}
              onChange={(event) => setNewSource({ ...newSource, id: event.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor="source-brand">Brand</label>
            <select
              id="source-brand"
              required
              value={newSource.brand}
              onChange={(event) => setNewSource({ ...newSource, brand: event.target.value })}
            >
              <option value="">Choose a brand…</option>
              {brandIds.map((brand) => (
                <option key={brand} value={brand}>
                  {brand}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="source-rate-limit">Rate limit (optional)</label>
            <input
              id="source-rate-limit"
              type="number"
              min={1}
              value={newSource.rateLimit}
              onChange={(event) => setNewSource({ ...newSource, rateLimit: event.target.value })}
            />
          </div>
          <button type="submit">Create source</button>
        </form>
      ) : null}
    </>
  );
}
