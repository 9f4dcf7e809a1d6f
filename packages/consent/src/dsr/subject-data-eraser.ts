/**
 * Who an erasure removes from the data held outside the identity graph and the consent ledger: every profile
 * id linked to the person (merged-away ones included) and the blind indexes of their contact points.
 */
export interface ErasureSubject {
  requestId: string;
  customerIds: string[];
  subjectKeys: string[];
}

/**
 * What else holds the person's data (the pipeline: raw events, the delivery log, dead letters, sync state,
 * queued jobs and delivery windows in Redis) and removes it for an erasure. Called on every run of the erasure
 * before it can complete, so it must be idempotent; it answers what it removed, in counts.
 */
export interface SubjectDataEraser {
  erase(subject: ErasureSubject): Promise<Record<string, number>>;
}
