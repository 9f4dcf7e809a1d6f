/** The faults the sandbox can be told to inject in front of an emulator. */
export type SandboxFaultKind = 'server-error' | 'rate-limit' | 'timeout' | 'unauthorized' | 'echo-rejection';
export const SANDBOX_FAULT_KINDS: readonly SandboxFaultKind[] = [
  'server-error',
  'rate-limit',
  'timeout',
  'unauthorized',
  'echo-rejection',
];

export interface SandboxFault {
  kind: SandboxFaultKind;
  /** How many requests it hits before it wears off (default 1). */
  times?: number;
  /** Only requests whose path (below the mount) starts with this are hit. */
  pathPrefix?: string;
  /**
   * `server-error`: the status (default 500). `echo-rejection`: a 4xx (default 400) whose message quotes the
   * request body, as ESPs quote the values they refuse (contact points included).
   */
  status?: number;
  /** `rate-limit`: the Retry-After it announces, in seconds (default 1). */
  retryAfterSeconds?: number;
}

/** A fault waiting in front of an emulator, with the hits it has left. */
export interface ArmedFault extends SandboxFault {
  remaining: number;
}

/** What is wrong with a fault sent to the control API, or undefined when it is sound. */
export function faultProblem(fault: SandboxFault): string | undefined {
  if (typeof fault !== 'object' || fault === null) return 'A fault must be a JSON object';
  if (!SANDBOX_FAULT_KINDS.includes(fault.kind)) {
    return `Unknown fault kind ${JSON.stringify(fault.kind)}; known: ${SANDBOX_FAULT_KINDS.join(', ')}`;
  }
  if (fault.times !== undefined && !(Number.isInteger(fault.times) && fault.times > 0)) {
    return `times must be a positive integer (got ${JSON.stringify(fault.times)})`;
  }
  const [low, high] = fault.kind === 'echo-rejection' ? [400, 499] : [500, 599];
  if (
    fault.status !== undefined &&
    !(Number.isInteger(fault.status) && fault.status >= low && fault.status <= high)
  ) {
    return `status must be a ${low === 400 ? '4xx' : '5xx'} status (got ${JSON.stringify(fault.status)})`;
  }
  if (
    fault.retryAfterSeconds !== undefined &&
    !(Number.isInteger(fault.retryAfterSeconds) && fault.retryAfterSeconds >= 0)
  ) {
    return `retryAfterSeconds must be a non-negative integer (got ${JSON.stringify(fault.retryAfterSeconds)})`;
  }
  if (
    fault.pathPrefix !== undefined &&
    (typeof fault.pathPrefix !== 'string' || !fault.pathPrefix.startsWith('/'))
  ) {
    return 'pathPrefix must be a path starting with "/"';
  }
  return undefined;
}
