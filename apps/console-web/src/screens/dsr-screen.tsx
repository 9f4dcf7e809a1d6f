import { useEffect, useState, type FormEvent } from 'react';
import { errorMessageOf } from '../api-client';
import type { DsrInput, DsrRequest, DsrStatus, DsrType } from '../api-types';
import { LoadState } from '../components/load-state';
import { ProblemAlert } from '../components/problem-alert';
import { RecordFields } from '../components/record-fields';
import { useConsole } from '../console-context';
import { formatDateTime } from '../display-format';
import { useApiResource } from '../use-api-resource';

type SubjectKind = 'email' | 'phone' | 'customerId';
const SUBJECT_LABELS: Record<SubjectKind, string> = {
  email: 'Email',
  phone: 'Phone',
  customerId: 'Customer ID',
};

/** How often requests still under way are read again. */
const FOLLOW_MS = 2000;

const underWay = (status: DsrStatus | undefined) => status === 'open' || status === 'running';

/** Refreshes (quietly) every FOLLOW_MS while `following` holds: requests under way, followed to their end. */
function useFollow(following: boolean, refresh: () => Promise<void>) {
  useEffect(() => {
    if (!following) return undefined;
    const timer = window.setInterval(() => void refresh(), FOLLOW_MS);
    return () => window.clearInterval(timer);
  }, [following, refresh]);
}

/** Data subject requests: open an access or erasure request, follow them, download access exports. */
export function DsrScreen() {
  const { api, can } = useConsole();
  const mayWrite = can('dsr.write');
  const requests = useApiResource(() => api.dsrRequests(), 'dsr');
  const [type, setType] = useState<DsrType>('access');
  const [kind, setKind] = useState<SubjectKind>('email');
  const [subject, setSubject] = useState('');
  const [status, setStatus] = useState('');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [opened, setOpened] = useState<string | undefined>(undefined);
  const rows = requests.data?.requests ?? [];
  useFollow(
    rows.some((request) => underWay(request.status)),
    requests.refresh,
  );

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setProblem(undefined);
    const input: DsrInput = { type, [kind]: subject.trim() };
    try {
      const request = await api.createDsr(input);
      setStatus(`Request ${request.id} (${request.type}) opened.`);
      setSubject('');
      await requests.reload();
    } catch (failure) {
      setProblem(`Could not open the request: ${errorMessageOf(failure)}`);
    }
  }

  async function download(request: DsrRequest) {
    setProblem(undefined);
    try {
      const blob = await api.dsrExport(request.id);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `dsr-${request.id}.json`;
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setStatus(`Export of ${request.id} downloaded.`);
    } catch (failure) {
      setProblem(`Could not download the export of ${request.id}: ${errorMessageOf(failure)}`);
    }
  }

  return (
    <>
      <h1>Data subject requests</h1>
      <p role="status" className="status">
        {status}
      </p>
      <ProblemAlert summary={problem} />
      {mayWrite ? (
        <form onSubmit={create} className="create-form" aria-labelledby="create-dsr-heading">
          <h2 id="create-dsr-heading">Open a request</h2>
          <div className="field">
            <label htmlFor="dsr-type">Request type</label>
            <select id="dsr-type" value={type} onChange={(event) => setType(event.target.value as DsrType)}>
              <option value="access">access</option>
              <option value="erasure">erasure</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="dsr-kind">Subject identified by</label>
            <select
              id="dsr-kind"
              value={kind}
              onChange={(event) => setKind(event.target.value as SubjectKind)}
            >
              {(Object.keys(SUBJECT_LABELS) as SubjectKind[]).map((entry) => (
                <option key={entry} value={entry}>
                  {SUBJECT_LABELS[entry]}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="dsr-subject">{SUBJECT_LABELS[kind]} of the subject</label>
            <input
              id="dsr-subject"
              type="text"
              required
              value={subject}
              onChange={(event) => setSubject(event.target.value)}
            />
          </div>
          <button type="submit">Open request</button>
        </form>
      ) : null}
      <LoadState loading={requests.loading} error={requests.error} />
      <table>
        <caption>Requests ({rows.length})</caption>
        <thead>
          <tr>
            <th scope="col">Request</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Opened</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((request) => (
            <tr key={request.id}>
              <th scope="row">{request.id}</th>
              <td>{request.type}</td>
              <td>{request.status}</td>
              <td>{formatDateTime(request.requestedAt)}</td>
              <td className="row-actions">
                <button type="button" onClick={() => setOpened(request.id)}>
                  Details of {request.id}
                </button>
                {request.type === 'access' && mayWrite ? (
                  // The export exists once the request is completed.
                  <button
                    type="button"
                    disabled={request.status !== 'completed'}
                    title={request.status === 'completed' ? undefined : 'The export is ready once completed.'}
                    onClick={() => void download(request)}
                  >
                    Download export of {request.id}
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {opened ? <DsrDetail id={opened} /> : null}
    </>
  );
}

function DsrDetail({ id }: { id: string }) {
  const { api } = useConsole();
  const request = useApiResource(() => api.dsrRequest(id), `dsr:${id}`);
  useFollow(underWay(request.data?.status), request.refresh);
  return (
    <section aria-labelledby="dsr-detail-heading" className="detail">
      <h2 id="dsr-detail-heading">Request {id}</h2>
      <LoadState loading={request.loading} error={request.error} />
      {request.data ? <RecordFields record={request.data} label={`Fields of request ${id}`} /> : null}
    </section>
  );
}
