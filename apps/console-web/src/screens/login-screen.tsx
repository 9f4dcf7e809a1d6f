import { useState, type FormEvent } from 'react';

interface LoginScreenProps {
  onSignIn(apiKey: string): Promise<boolean>;
  /** The API's message for the last attempt (e.g. `unknown or revoked API key`). */
  error: string | undefined;
  /** A key from this tab's sessionStorage is being checked. */
  restoring: boolean;
}

export function LoginScreen({ onSignIn, error, restoring }: LoginScreenProps) {
  const [apiKey, setApiKey] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (apiKey.trim() === '') return;
    setBusy(true);
    const ok = await onSignIn(apiKey.trim());
    setBusy(false);
    if (ok) setApiKey('');
  }

  return (
    <main className="login" id="main">
      <h1>Tessera console</h1>
      <form onSubmit={submit} aria-describedby="login-help">
        <p id="login-help">Sign in with a control-plane API key (it starts with tsk_).</p>
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            required
            value={apiKey}
            onChange={(event) => setApiKey(event.target.value)}
          />
        </div>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <p role="status" className="status">
          {busy || restoring ? 'Signing in…' : ''}
        </p>
        {error ? (
          <p role="alert" className="error">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}
