-- Erased identifiers keyed by a blind index, and the time they were erased (issue 18, issue 19 item 6).
-- Forward-only: never edit this file once released.
--
-- An erased customer id, member id, card or device id no longer keeps its value as its lookup key: the erasure
-- re-keys it by a keyed blind index ('erased:' and an HMAC), and the resolver asks for that form when a value
-- it does not know arrives. Workers re-key, at start, any tombstone an earlier release left in clear; this
-- index keeps that check to the tombstones.
CREATE INDEX identity_identifiers_tombstones ON identity_identifiers (id) WHERE quarantined_reason = 'erased';

-- When the identifier was erased: only a registration captured after it (a consent grant, an account link by
-- the member) brings the identifier back to life. Null for tombstones written before this column existed.
ALTER TABLE identity_identifiers ADD COLUMN erased_at timestamptz;
