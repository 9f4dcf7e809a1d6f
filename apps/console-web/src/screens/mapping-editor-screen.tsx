import { useEffect, useRef, useState } from 'react';
import { ApiError, errorMessageOf } from '../api-client';
import type { ApiIssue, CloudEventInput, Preview, Rules } from '../api-types';
import { JsonBlock } from '../components/json-block';
import { LoadState } from '../components/load-state';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { formatDateTime, prettyJson } from '../display-format';
import { useApiResource } from '../use-api-resource';
import { navigate } from '../use-hash-route';

const VALIDATE_DEBOUNCE_MS = 300;

/** The preview's starting point: a loyalty points update, as a brand's source would send it. */
const SAMPLE_EVENT: CloudEventInput = {
  specversion: '1.0',
  type: 'points.updated',
  source: 'console-preview',
  id: 'preview-1',
  data: {
    customer_id: 'C123456',
    email: 'user@example.com',
    delta: 120,
    new_balance: 1840,
    reason: 'purchase',
  },
};

type ParsedJson<T> = { ok: true; value: T } | { ok: false; problem: string };

function parseRules(text: string): ParsedJson<Rules> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, problem: 'Rules must be a JSON object.' };
    }
    return { ok: true, value: value as Rules };
  } catch (failure) {
    return { ok: false, problem: `Rules are not valid JSON: ${errorMessageOf(failure)}` };
  }
}

function parseEvent(text: string): ParsedJson<CloudEventInput> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, problem: 'The sample event must be a JSON object (a CloudEvent).' };
    }
    return { ok: true, value: value as CloudEventInput };
  } catch (failure) {
    return { ok: false, problem: `Sample event is not valid JSON: ${errorMessageOf(failure)}` };
  }
}

/** The mapping editor of `#/mappings/{destinationId}`, with a destination picker above it. */
export function MappingEditorScreen({ destinationId }: { destinationId: string | undefined }) {
  const { destinations } = useConsole();
  return (
    <>
      <h1>Mappings{destinationId ? ` of ${destinationId}` : ''}</h1>
      <div className="field">
        <label htmlFor="mapping-destination">Destination</label>
        <select
          id="mapping-destination"
          value={destinationId ?? ''}
          onChange={(event) => (event.target.value ? navigate('mappings', event.target.value) : undefined)}
        >
          <option value="">Choose a destination…</option>
          {(destinations ?? []).map((destination) => (
            <option key={destination.id} value={destination.id}>
              {destination.id} ({destination.brand}, {destination.type})
            </option>
          ))}
        </select>
      </div>
      {destinationId ? <MappingEditor key={destinationId} destinationId={destinationId} /> : null}
    </>
  );
}

type Validity = 'idle' | 'checking' | 'valid' | 'invalid';

function MappingEditor({ destinationId }: { destinationId: string }) {
  const { api, can, destinations } = useConsole();
  const mayWrite = can('mappings.write');
  const mayPreview = can('mappings.preview');
  const brand = destinations?.find((destination) => destination.id === destinationId)?.brand;

  const mappings = useApiResource(() => api.mappings(destinationId), `mappings:${destinationId}`);
  const [draft, setDraft] = useState<string | undefined>(undefined);
  const [jsonProblem, setJsonProblem] = useState<string | undefined>(undefined);
  const [issues, setIssues] = useState<ApiIssue[]>([]);
  const [validity, setValidity] = useState<Validity>('idle');
  const [saveStatus, setSaveStatus] = useState('');
  const [saving, setSaving] = useState(false);
  const validation = useRef(0);

  useEffect(() => {
    if (mappings.data && draft === undefined) setDraft(JSON.stringify(mappings.data.rules, null, 2));
  }, [mappings.data, draft]);

  // Validates the draft 300 ms after the last keystroke; an answer for an older draft is dropped.
  useEffect(() => {
    if (draft === undefined) return;
    const mine = ++validation.current;
    const timer = window.setTimeout(async () => {
      const parsed = parseRules(draft);
      if (!parsed.ok) {
        setJsonProblem(parsed.problem);
        setIssues([]);
        setValidity('invalid');
        return;
      }
      setJsonProblem(undefined);
      setValidity('checking');
      try {
        const answer = await api.validateMappings(destinationId, parsed.value);
        if (mine !== validation.current) return;
        setIssues(answer.errors);
        setValidity(answer.valid ? 'valid' : 'invalid');
      } catch (failure) {
        if (mine !== validation.current) return;
        setIssues([]);
        setJsonProblem(`Could not validate the rules: ${errorMessageOf(failure)}`);
        setValidity('invalid');
      }
    }, VALIDATE_DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [draft, api, destinationId]);

  async function save() {
    if (draft === undefined) return;
    const parsed = parseRules(draft);
    if (!parsed.ok) {
      setJsonProblem(parsed.problem);
      setSaveStatus('Not saved: fix the rules first.');
      return;
    }
    setSaving(true);
    setSaveStatus('Saving…');
    try {
      const saved = await api.saveMappings(destinationId, parsed.value);
      setSaveStatus(`Saved version ${saved.version}`);
      setIssues([]);
      await mappings.reload();
    } catch (failure) {
      if (failure instanceof ApiError && failure.errors.length > 0) setIssues(failure.errors);
      setSaveStatus(`Not saved: ${errorMessageOf(failure)}`);
    } finally {
      setSaving(false);
    }
  }

  const validityText: Record<Validity, string> = {
    idle: '',
    checking: 'Checking the rules…',
    valid: 'The rules are valid.',
    invalid: 'The rules have problems.',
  };

  return (
    <div className="editor-layout">
      <section aria-labelledby="rules-heading">
        <h2 id="rules-heading">Rules</h2>
        <LoadState loading={mappings.loading} error={mappings.error} />
        {mappings.data ? (
          <p className="muted">
            {mappings.data.version === 0
              ? 'No rules saved yet (version 0).'
              : `Version ${mappings.data.version}, saved ${formatDateTime(mappings.data.savedAt)}${
                  mappings.data.savedBy ? ` by ${mappings.data.savedBy}` : ''
                }.`}
          </p>
        ) : null}
        <div className="field">
          <label htmlFor="rules-json">Rules (JSON)</label>
          <textarea
            id="rules-json"
            className="code"
            rows={22}
            spellCheck={false}
            readOnly={!mayWrite}
            value={draft ?? ''}
            disabled={draft === undefined}
            aria-describedby="rules-validity"
            aria-invalid={validity === 'invalid'}
            onChange={(event) => setDraft(event.target.value)}
          />
        </div>
        <p id="rules-validity" role="status" className="status">
          {validityText[validity]}
        </p>
        <ProblemAlert summary={jsonProblem} issues={issues} />
        {mayWrite ? (
          <>
            <button type="button" onClick={() => void save()} disabled={saving || draft === undefined}>
              Save
            </button>
            <p role="status" className="status">
              {saveStatus}
            </p>
          </>
        ) : null}
      </section>
      {mayPreview ? (
        <PreviewPanel destinationId={destinationId} brand={brand} draft={draft} />
      ) : (
        <p>Your role may not preview mappings.</p>
      )}
    </div>
  );
}

interface PreviewPanelProps {
  destinationId: string;
  brand: string | undefined;
  /** The rules being edited (sent as the draft when they parse). */
  draft: string | undefined;
}

function PreviewPanel({ destinationId, brand, draft }: PreviewPanelProps) {
  const { api } = useConsole();
  const [eventText, setEventText] = useState(() => JSON.stringify(SAMPLE_EVENT, null, 2));
  const [recentChoice, setRecentChoice] = useState('');
  const [preview, setPreview] = useState<Preview | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [issues, setIssues] = useState<ApiIssue[]>([]);
  const [busy, setBusy] = useState(false);
  const recent = useApiResource(
    () => (brand ? api.recentEvents(brand) : Promise.resolve({ events: [] })),
    `recent:${brand ?? ''}`,
  );
  const recentEvents = recent.data?.events ?? [];

  async function runPreview() {
    setProblem(undefined);
    setIssues([]);
    const chosen = recentChoice === '' ? undefined : recentEvents[Number(recentChoice)];
    let event: CloudEventInput | undefined;
    if (!chosen) {
      const parsed = parseEvent(eventText);
      if (!parsed.ok) {
        setProblem(parsed.problem);
        return;
      }
      event = parsed.value;
    }
    const rules = draft === undefined ? undefined : parseRules(draft);
    if (rules && !rules.ok) {
      setProblem(`Preview needs valid rules. ${rules.problem}`);
      return;
    }
    setBusy(true);
    try {
      const answer = await api.preview({
        destinationId,
        ...(chosen
          ? { recentEvent: { sourceId: chosen.sourceId, source: chosen.source, id: chosen.id } }
          : { event }),
        ...(rules ? { rules: rules.value } : {}),
      });
      setPreview(answer);
    } catch (failure) {
      setPreview(undefined);
      setProblem(`Preview failed: ${errorMessageOf(failure)}`);
      if (failure instanceof ApiError) setIssues(failure.errors);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="preview-heading">
      <h2 id="preview-heading">Preview</h2>
      <div className="field">
        <label htmlFor="recent-event">Recent event (optional)</label>
        <select
          id="recent-event"
          value={recentChoice}
          onChange={(event) => setRecentChoice(event.target.value)}
        >
          <option value="">The sample event below</option>
          {recentEvents.map((recentEvent, index) => (
            <option key={`${recentEvent.source}/${recentEvent.id}`} value={String(index)}>
              {recentEvent.type} {recentEvent.id} ({formatDateTime(recentEvent.receivedAt)})
            </option>
          ))}
        </select>
        {recent.error ? <p className="muted">Recent events are not available: {recent.error}</p> : null}
      </div>
      <div className="field">
        <label htmlFor="sample-event">Sample event (JSON)</label>
        <textarea
          id="sample-event"
          className="code"
          rows={12}
          spellCheck={false}
          value={eventText}
          disabled={recentChoice !== ''}
          onChange={(event) => setEventText(event.target.value)}
        />
      </div>
      <button type="button" onClick={() => void runPreview()} disabled={busy}>
        Preview
      </button>
      <p role="status" className="status">
        {busy ? 'Previewing…' : preview ? 'Preview ready.' : ''}
      </p>
      <ProblemAlert summary={problem} issues={issues} />
      {preview ? <PreviewResult preview={preview} /> : null}
    </section>
  );
}

function PreviewResult({ preview }: { preview: Preview }) {
  return (
    <div className="preview-result">
      {preview.personalData === 'masked' ? (
        <p className="muted">
          Personal data is masked for your role: the rules ran on placeholders of the same shape (emails
          masked-…@example.net, phones +12025550100, names and addresses •••).
        </p>
      ) : null}
      <h3>Operations</h3>
      {preview.operations.length === 0 ? <p>No operations: the event maps to nothing.</p> : null}
      <ol>
        {preview.operations.map((operation, index) => (
          <li key={index}>
            <strong>{operation.operation}</strong> for customer <code>{operation.customerId}</code>
            <JsonBlock value={operation} label={`Operation ${index + 1}`} />
          </li>
        ))}
      </ol>
      <h3>Requests</h3>
      {preview.requests.length === 0 ? <p>No requests.</p> : null}
      {preview.requests.map((request, index) => (
        <article key={index} className="request" aria-label={`Request ${index + 1}`}>
          <h4>
            <code>
              {request.method} {request.url}
            </code>
          </h4>
          {request.body === undefined || request.body === null || request.body === '' ? (
            <p className="muted">No body.</p>
          ) : (
            <pre className="json" tabIndex={0} aria-label={`Body of request ${index + 1}`}>
              {prettyJson(request.body)}
            </pre>
          )}
          {request.headers && Object.keys(request.headers).length > 0 ? (
            <details>
              <summary>Headers</summary>
              <JsonBlock value={request.headers} label={`Headers of request ${index + 1}`} />
            </details>
          ) : null}
        </article>
      ))}
      <h3>Notes</h3>
      {preview.notes.length === 0 ? (
        <p>No notes.</p>
      ) : (
        <ul>
          {preview.notes.map((note, index) => (
            <li key={index}>{note}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
