import type { FastifyRequest } from 'fastify';
import type { ApiKeyRecord } from '@tessera/control-plane';

/** The key a request was authenticated with, and the actor the audit log records for it. */
export interface ConsoleCaller {
  key: ApiKeyRecord;
  /** `console:<key id>`. */
  actor: string;
}

export type ConsoleRequest = FastifyRequest & {
  caller?: ConsoleCaller;
  validBody?: unknown;
  validQuery?: unknown;
};
