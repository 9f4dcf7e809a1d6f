-- When each polling ESP was last seen holding a contact point subscribed (issue 19: observed-time opt-outs).
-- Forward-only: never edit this file once released.

-- One row per destination, contact point (blind index, as in the consent ledger: no plaintext) and channel:
-- the latest time a poll of that destination saw the member subscribed there. An opt-out the ESP reports
-- without a change time is stamped with when it was observed, and never overrides a grant captured after this
-- sighting (the withdrawal may predate the grant). Written by the inbound poll, read by the inbound sync.
CREATE TABLE inbound_subscribed_sightings (
  destination_id text NOT NULL,
  subject_key text NOT NULL,
  channel text NOT NULL,
  seen_at timestamptz NOT NULL,
  PRIMARY KEY (destination_id, subject_key, channel)
);
