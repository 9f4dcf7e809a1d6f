import { DeliveryError } from '@tessera/destination-kit';

/** One entry of Klaviyo's JSON:API `errors` array, as far as the destination reads it. */
export interface KlaviyoErrorEntry {
  code?: string;
  title?: string;
  detail?: string;
  source?: { pointer?: string | null; parameter?: string | null };
}

/** The `errors` of a refused request (the kit keeps the response body on the DeliveryError), or []. */
export function klaviyoErrors(error: unknown): KlaviyoErrorEntry[] {
  if (!(error instanceof DeliveryError) || error.body === undefined) return [];
  try {
    const parsed = JSON.parse(error.body) as { errors?: unknown };
    return Array.isArray(parsed.errors) ? (parsed.errors as KlaviyoErrorEntry[]) : [];
  } catch {
    return [];
  }
}

/** Klaviyo's explanation of an error entry: its detail, else its title. */
export function errorReason(entry: KlaviyoErrorEntry): string {
  return entry.detail ?? entry.title ?? 'refused';
}
