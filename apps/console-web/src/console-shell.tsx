import {
  lazy,
  Suspense,
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
  type MouseEvent,
  type ReactNode,
} from 'react';
import { errorMessageOf, type ApiClient } from './api-client';
import type { Destination, Permission, Session } from './api-types';
import { PausedBanner } from './components/paused-banner';
import { ConsoleContext, type ConsoleContextValue } from './console-context';
import { ApiKeysScreen } from './screens/api-keys-screen';
import { AuditScreen } from './screens/audit-screen';
import { DeadLettersScreen } from './screens/dead-letters-screen';
import { DestinationsScreen } from './screens/destinations-screen';
import { DsrScreen } from './screens/dsr-screen';
import { MappingEditorScreen } from './screens/mapping-editor-screen';
import { ProfilesScreen } from './screens/profiles-screen';
import { ReviewsScreen } from './screens/reviews-screen';
import { SharedContactPointsScreen } from './screens/shared-contact-points-screen';
import { SourcesScreen } from './screens/sources-screen';
import { hrefOf, useHashRoute } from './use-hash-route';

const DESTINATIONS_REFRESH_MS = 5000;

// The dashboard brings recharts, most of the bundle: it loads when first shown.
const DashboardScreen = lazy(() =>
  import('./screens/dashboard-screen').then((module) => ({ default: module.DashboardScreen })),
);

interface ScreenEntry {
  path: string;
  title: string;
  /** Shown in the navigation (and reachable) when the key holds one of these. */
  anyOf: Permission[];
  render(rest: string[]): ReactNode;
}

const SCREENS: ScreenEntry[] = [
  {
    path: 'destinations',
    title: 'Destinations',
    anyOf: ['workspace.read'],
    render: () => <DestinationsScreen />,
  },
  {
    path: 'mappings',
    title: 'Mappings',
    anyOf: ['mappings.write', 'mappings.preview'],
    render: ([destinationId]) => <MappingEditorScreen destinationId={destinationId} />,
  },
  { path: 'dashboard', title: 'Dashboard', anyOf: ['dashboard.read'], render: () => <DashboardScreen /> },
  {
    path: 'dead-letters',
    title: 'Dead letters',
    anyOf: ['dead-letters.read'],
    render: () => <DeadLettersScreen />,
  },
  { path: 'reviews', title: 'Review queue', anyOf: ['reviews.read'], render: () => <ReviewsScreen /> },
  { path: 'audit', title: 'Audit log', anyOf: ['audit.read'], render: () => <AuditScreen /> },
  { path: 'profiles', title: 'Profiles', anyOf: ['profiles.read'], render: () => <ProfilesScreen /> },
  {
    path: 'shared-contact-points',
    title: 'Shared contact points',
    anyOf: ['profiles.read'],
    render: () => <SharedContactPointsScreen />,
  },
  { path: 'sources', title: 'Sources', anyOf: ['workspace.read'], render: () => <SourcesScreen /> },
  { path: 'api-keys', title: 'API keys', anyOf: ['secrets.manage'], render: () => <ApiKeysScreen /> },
  { path: 'dsr', title: 'Data subject requests', anyOf: ['dsr.read'], render: () => <DsrScreen /> },
];

/** Polls `GET /v1/destinations` every 5 s; keeps the previous list while a poll fails. */
function useDestinationsPoll(api: ApiClient) {
  const [destinations, setDestinations] = useState<Destination[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const lastText = useRef('');

  const refresh = useCallback(async () => {
    try {
      const answer = await api.destinations();
      // Only a change re-renders, so the banner's alert is not announced again every 5 s.
      const text = JSON.stringify(answer.destinations);
      if (text !== lastText.current) {
        lastText.current = text;
        setDestinations(answer.destinations);
      }
      setError(undefined);
    } catch (failure) {
      setError(errorMessageOf(failure));
    }
  }, [api]);

  useEffect(() => {
    void refresh();
    const timer = window.setInterval(() => void refresh(), DESTINATIONS_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [refresh]);

  return { destinations, error, refresh };
}

interface ConsoleShellProps {
  api: ApiClient;
  session: Session;
  onSignOut(): void;
}

/** The signed-in console: header, navigation by permission, the paused banner and the current screen. */
export function ConsoleShell({ api, session, onSignOut }: ConsoleShellProps) {
  const route = useHashRoute();
  const { destinations, error, refresh } = useDestinationsPoll(api);
  const mainRef = useRef<HTMLElement>(null);

  const context = useMemo<ConsoleContextValue>(() => {
    const granted = new Set(session.permissions);
    return {
      api,
      session,
      can: (permission) => granted.has(permission),
      destinations,
      destinationsError: error,
      refreshDestinations: refresh,
    };
  }, [api, session, destinations, error, refresh]);

  const visible = SCREENS.filter((screen) => screen.anyOf.some((permission) => context.can(permission)));
  const [path = visible[0]?.path ?? '', ...rest] = route;
  const current = visible.find((screen) => screen.path === path);

  useEffect(() => {
    document.title = current ? `${current.title} — Tessera console` : 'Tessera console';
  }, [current]);

  // Moves focus to the new screen after a navigation (not on the first render), for keyboard and screen readers.
  const firstRoute = useRef(true);
  useEffect(() => {
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    mainRef.current?.focus();
  }, [path]);

  return (
    <ConsoleContext.Provider value={context}>
      <a className="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header className="console-header">
        <p className="brand-name">Tessera console</p>
        <p className="who">
          Signed in as <strong>{session.name}</strong> ({session.role})
        </p>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Console" className="console-nav">
        <ul>
          {visible.map((screen) => (
            <li key={screen.path}>
              <a href={hrefOf(screen.path)} aria-current={screen === current ? 'page' : undefined}>
                {screen.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <PausedBanner destinations={destinations} />
      <main id="main" ref={mainRef} tabIndex={-1} key={path}>
        {current ? (
          <Suspense fallback={<p role="status">Loading…</p>}>{current.render(rest)}</Suspense>
        ) : (
          <>
            <h1>Not available</h1>
            <p>
              There is no screen at “{path}” for the role {session.role}.{' '}
              {visible[0] ? <a href={hrefOf(visible[0].path)}>Go to {visible[0].title}</a> : null}
            </p>
          </>
        )}
      </main>
    </ConsoleContext.Provider>
  );
}

function skipToMain(event: MouseEvent<HTMLAnchorElement>) {
  // The hash is the router's: focus the content instead of navigating to `#main`.
  event.preventDefault();
  document.getElementById('main')?.focus();
}
