import { useState, type FormEvent } from 'react';
import { errorMessageOf } from '../api-client';
import { ROLES, type ApiKey, type Role } from '../api-types';
import { LoadState } from '../components/load-state';
import { ProblemAlert } from '../components/problem-alert';
import { SecretOnce } from '../components/secret-once';
import { useConsole } from '../console-context';
import { formatDateTime } from '../display-format';
import { useApiResource } from '../use-api-resource';

/** The control plane's API keys: create (the key once) and revoke. */
export function ApiKeysScreen() {
  const { api, session } = useConsole();
  const keys = useApiResource(() => api.apiKeys(), 'api-keys');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('auditor');
  const [created, setCreated] = useState<{ name: string; apiKey: string } | undefined>(undefined);
  const [status, setStatus] = useState('');
  const [problem, setProblem] = useState<string | undefined>(undefined);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setProblem(undefined);
    try {
      const answer = await api.createApiKey(name.trim(), role);
      setCreated({ name: answer.apiKey.name, apiKey: answer.key });
      setStatus(`Key ${answer.apiKey.name} (${answer.apiKey.role}) created.`);
      setName('');
      await keys.reload();
    } catch (failure) {
      setProblem(`Could not create the key: ${errorMessageOf(failure)}`);
    }
  }

  async function revoke(key: ApiKey) {
    setProblem(undefined);
    try {
      await api.revokeApiKey(key.id);
      setStatus(`Key ${key.name} revoked.`);
      await keys.reload();
    } catch (failure) {
      setProblem(`Could not revoke ${key.name}: ${errorMessageOf(failure)}`);
    }
  }

  const rows = keys.data?.keys ?? [];
  return (
    <>
      <h1>API keys</h1>
      {created ? (
        <SecretOnce
          title={`API key ${created.name}`}
          secret={created.apiKey}
          onDismiss={() => setCreated(undefined)}
        />
      ) : null}
      <p role="status" className="status">
        {status}
      </p>
      <ProblemAlert summary={problem} />
      <LoadState loading={keys.loading} error={keys.error} />
      <table>
        <caption>API keys ({rows.length})</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Revoked</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((key) => (
            <tr key={key.id}>
              <th scope="row">
                {key.name} <span className="muted">({key.id})</span>
              </th>
              <td>{key.role}</td>
              <td>
                {formatDateTime(key.createdAt)} by {key.createdBy}
              </td>
              <td>{formatDateTime(key.lastUsedAt) || 'never'}</td>
              <td>{formatDateTime(key.revokedAt) || 'no'}</td>
              <td>
                {key.revokedAt || key.id === session.keyId ? null : (
                  <button type="button" onClick={() => void revoke(key)}>
                    Revoke key {key.name}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form onSubmit={create} className="create-form" aria-labelledby="create-key-heading">
        <h2 id="create-key-heading">Create an API key</h2>
        <div className="field">
          <label htmlFor="key-name">Key name</label>
          <input
            id="key-name"
            type="text"
            required
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="key-role">Role</label>
          <select id="key-role" value={role} onChange={(event) => setRole(event.target.value as Role)}>
            {ROLES.map((entry) => (
              <option key={entry} value={entry}>
                {entry}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Create key</button>
      </form>
    </>
  );
}
