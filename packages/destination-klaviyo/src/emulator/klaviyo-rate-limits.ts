import { RateBudgets, type RateBudget } from '@tessera/destination-kit';
import {
  type KlaviyoEndpoint,
  KLAVIYO_RATE_BUDGETS,
  klaviyoWindows,
  requestPattern,
} from '../klaviyo-endpoints';

/**
 * Endpoints the emulator serves for tests and the demo that the destination never calls, with Klaviyo's
 * published limits (the profile ones from the spec files, checked by the contract test like the others).
 */
export const EMULATOR_ONLY_ENDPOINTS = {
  profile: { method: 'GET', path: '/api/profiles/{id}', limit: { burst: 75, steady: 750 } },
  profileUpdate: { method: 'PATCH', path: '/api/profiles/{id}', limit: { burst: 75, steady: 750 } },
  listCreate: { method: 'POST', path: '/api/lists', limit: { burst: 10, steady: 150 } },
  list: { method: 'GET', path: '/api/lists/{id}', limit: { burst: 75, steady: 750 } },
} as const satisfies Record<string, KlaviyoEndpoint>;

/**
 * What the emulator enforces: the destination's own rate budgets (the very table its requests are paced by,
 * so the two cannot drift), plus the endpoints only the emulator serves. Klaviyo counts each per account.
 */
export const EMULATOR_RATE_BUDGETS: Record<string, RateBudget> = {
  ...KLAVIYO_RATE_BUDGETS,
  ...Object.fromEntries(
    Object.entries(EMULATOR_ONLY_ENDPOINTS).map(([name, endpoint]) => [
      name,
      { windows: klaviyoWindows(endpoint.limit), requests: [requestPattern(endpoint)] },
    ]),
  ),
};

export const emulatorRateBudgets = new RateBudgets(EMULATOR_RATE_BUDGETS);
