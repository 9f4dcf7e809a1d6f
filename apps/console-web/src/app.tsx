import { useCallback, useEffect, useState } from 'react';
import { ApiClient, ApiError, errorMessageOf } from './api-client';
import type { Session } from './api-types';
import { ConsoleShell } from './console-shell';
import { LoginScreen } from './screens/login-screen';

/** Where the key lives while the tab is open (never in localStorage: it is a credential). */
const API_KEY_STORAGE = 'tessera.console.apiKey';

function storedKey(): string {
  try {
    return sessionStorage.getItem(API_KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

/** Signs in with an API key (kept in sessionStorage) and shows the console for the key's role. */
export function App() {
  const [signedIn, setSignedIn] = useState<{ api: ApiClient; session: Session } | undefined>(undefined);
  const [restoring, setRestoring] = useState(() => storedKey() !== '');
  const [loginError, setLoginError] = useState<string | undefined>(undefined);

  const signIn = useCallback(async (apiKey: string) => {
    const api = new ApiClient(apiKey);
    try {
      const session = await api.session();
      sessionStorage.setItem(API_KEY_STORAGE, apiKey);
      setLoginError(undefined);
      setSignedIn({ api, session });
      return true;
    } catch (failure) {
      setLoginError(errorMessageOf(failure));
      if (failure instanceof ApiError && failure.status === 401) sessionStorage.removeItem(API_KEY_STORAGE);
      return false;
    }
  }, []);

  const signOut = useCallback(() => {
    sessionStorage.removeItem(API_KEY_STORAGE);
    setSignedIn(undefined);
    setLoginError(undefined);
  }, []);

  useEffect(() => {
    const apiKey = storedKey();
    if (apiKey === '') return;
    void signIn(apiKey).finally(() => setRestoring(false));
  }, [signIn]);

  if (signedIn === undefined) {
    return <LoginScreen onSignIn={signIn} error={loginError} restoring={restoring} />;
  }
  return <ConsoleShell api={signedIn.api} session={signedIn.session} onSignOut={signOut} />;
}
