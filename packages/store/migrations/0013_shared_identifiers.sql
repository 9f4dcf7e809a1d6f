-- Contact points two members share (issue 19: a family email). Forward-only: never edit this file once released.

-- An email (or phone) seen with two members anchored by different ids of one kind (two member ids of one
-- brand, two customer ids) stays with the profile that held it first and links nothing to the other: one row
-- per identifier and profile it would have joined, so the case is on record rather than silently dropped.
-- The identifier is named by its id only (its blind index and sealed value stay in identity_identifiers): no
-- plaintext here. A repeat sighting moves last_seen_at and counts once per event (last_event_id), never a row.
CREATE TABLE identity_shared_identifiers (
  id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  identifier_id bigint NOT NULL REFERENCES identity_identifiers (id),
  -- The profile the identifier would have joined and does not (the second member's).
  customer_id text NOT NULL,
  -- The profile that held it when last seen (the first member's).
  held_by text NOT NULL,
  -- The anchor kind the two members conflict on: 'member.sports-direct', 'customer_id'.
  anchor text NOT NULL,
  reason text NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  seen_count integer NOT NULL DEFAULT 1,
  last_event_id text,
  PRIMARY KEY (identifier_id, customer_id)
);
CREATE INDEX identity_shared_identifiers_customer ON identity_shared_identifiers (customer_id);
