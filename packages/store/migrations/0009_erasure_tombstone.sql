-- The erasure tombstone (issue 18). Forward-only: never edit this file once released.
--
-- An erasure deletes the subject's raw events, delivery log entries, dead letters and sync state. What stays is
-- keyed blind indexes (HMAC-SHA-256 under a key derived from the master key) — no value, nothing decryptable:
-- - of each erased event's key (the source id, the CloudEvents source and id), so that the resolve stage
--   recognises a retried event of the erased person and neither stores nor resolves it again;
-- - of each erased customer id, so that a re-send path (dead-letter replay) recognises an item of an erased
--   person that a flush settled after the erasure, and drops it.
CREATE TABLE erased_events (
  event_key_hash text PRIMARY KEY,
  erased_at timestamptz NOT NULL
);

CREATE TABLE erased_customers (
  customer_key_hash text PRIMARY KEY,
  erased_at timestamptz NOT NULL
);
