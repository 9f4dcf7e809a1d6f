import { type AccessToken, type OperationContext, ValidationError } from '@tessera/destination-kit';
import { hostUrl, SFMC_ENDPOINTS } from '../sfmc-endpoints';
import type { SfmcSettings } from '../sfmc-settings';

/** Body of `POST /v2/token` (client credentials grant of a server-to-server installed package). */
export interface TokenRequestBody {
  grant_type: 'client_credentials';
  client_id: string;
  client_secret: string;
  account_id?: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  soap_instance_url?: string;
  rest_instance_url?: string;
}

export function buildTokenRequest(settings: SfmcSettings): TokenRequestBody {
  return {
    grant_type: 'client_credentials',
    client_id: settings.clientId,
    client_secret: settings.clientSecret,
    ...(settings.accountId === undefined ? {} : { account_id: settings.accountId }),
  };
}

/**
 * Fetches an access token from the auth host. The runner caches it (shared by every worker through the
 * pipeline's token cache) until a minute before `expires_in` runs out: SFMC throttles integrations that ask
 * for a token per request.
 */
export async function fetchSfmcToken({
  http,
  settings,
  clock,
}: OperationContext<SfmcSettings>): Promise<AccessToken> {
  const requestedAt = clock.now();
  const response = await http.post<TokenResponse>(
    hostUrl(settings.authBaseUrl, SFMC_ENDPOINTS.token.path),
    buildTokenRequest(settings),
  );
  const body = response.body;
  if (typeof body?.access_token !== 'string' || typeof body.expires_in !== 'number') {
    throw new ValidationError('SFMC token response has no access_token or expires_in');
  }
  return { value: body.access_token, expiresAt: requestedAt + body.expires_in * 1000 };
}

/** The bearer header; SOAP calls also read the token from their context for the `<fueloauth>` element. */
export function sfmcRequestHeaders(_settings: SfmcSettings, token?: string): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}
