-- The erasure tombstone (issue 18). Forward-only: never edit this file once released.
--
-- An erasure deletes the subject's raw events, delivery log entries, dead letters and sync state. What stays of
-- their events is this: a keyed blind index of each erased event's key (HMAC-SHA-256 of the source id, the
-- CloudEvents source and id, under a key derived from the master key) — no value, nothing decryptable — so that
-- the resolve stage recognises a retried event of the erased person and neither stores nor resolves it again.
CREATE TABLE erased_events (
  event_key_hash text PRIMARY KEY,
  erased_at timestamptz NOT NULL
);
