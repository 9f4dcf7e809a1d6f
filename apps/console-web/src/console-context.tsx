import { createContext, useContext } from 'react';
import type { ApiClient } from './api-client';
import type { Destination, Permission, Session } from './api-types';

/** What every screen of a signed-in console shares. */
export interface ConsoleContextValue {
  api: ApiClient;
  session: Session;
  can(permission: Permission): boolean;
  /** Every destination, refreshed every 5 s (the paused banner and the destinations screen read it). */
  destinations: Destination[] | undefined;
  destinationsError: string | undefined;
  refreshDestinations(): Promise<void>;
}

export const ConsoleContext = createContext<ConsoleContextValue | undefined>(undefined);

export function useConsole(): ConsoleContextValue {
  const value = useContext(ConsoleContext);
  if (value === undefined) throw new Error('useConsole is used outside a signed-in console');
  return value;
}
