/** Messages between `ThreadedPgliteStore` (the caller's thread) and the PGlite thread. */
export type PgliteThreadRequest =
  | { id: number; kind: 'query'; sql: string; params?: readonly unknown[]; tx?: number }
  | { id: number; kind: 'exec'; sql: string; tx?: number }
  | { id: number; kind: 'begin' }
  | { id: number; kind: 'commit'; tx: number }
  | { id: number; kind: 'rollback'; tx: number }
  | { id: number; kind: 'close' };

export type PgliteThreadResponse =
  { id: number; ok: true; rows?: unknown[]; tx?: number } | { id: number; ok: false; error: SerializedError };

/** What the thread hands over of an error: PostgreSQL's fields (code, detail, constraint, …) survive the trip. */
export interface SerializedError {
  name: string;
  message: string;
  fields: Record<string, string | number | boolean>;
}

/** What the thread is started with. */
export interface PgliteThreadData {
  /** The data folder; none: in memory. */
  dataDir?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      fields[key] = value;
  }
  return { name: error.name, message: error.message, fields };
}

/** The error as the caller's thread raises it: same message and fields, and the caller's own stack. */
export function restoreError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  Object.assign(error, serialized.fields);
  if (serialized.name !== 'Error') Object.defineProperty(error, 'name', { value: serialized.name });
  return error;
}
