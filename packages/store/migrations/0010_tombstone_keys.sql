-- Erased identifiers keyed by a blind index (issue 18). Forward-only: never edit this file once released.
--
-- An erased customer id, member id, card or device id no longer keeps its value as its lookup key: the erasure
-- re-keys it by a keyed blind index ('erased:' and an HMAC), and the resolver asks for that form when a value
-- it does not know arrives. Workers re-key, at start, any tombstone an earlier release left in clear; this
-- index keeps that check to the tombstones.
CREATE INDEX identity_identifiers_tombstones ON identity_identifiers (id) WHERE quarantined_reason = 'erased';
