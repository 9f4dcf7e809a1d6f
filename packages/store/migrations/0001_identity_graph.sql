-- The identity graph (packages/identity-graph). Forward-only: never edit this file once released; add 0002_….

-- Every identifier ever seen. PII types (email, phone) keep only a blind index (lookup_key) and the sealed
-- value; other types keep the normalized value as lookup_key.
CREATE TABLE identity_identifiers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type text NOT NULL,
  scope text NOT NULL DEFAULT '',
  lookup_key text NOT NULL,
  -- Blind index of the SHA-256 of the normalized value: how hashed migration files find identifiers.
  hashed_lookup_key text NOT NULL,
  value_ciphertext text,
  value_key_id text,
  is_anchor boolean NOT NULL,
  priority integer NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  -- The customer id a profile gets when this identifier is its canonical one (its oldest anchor).
  own_customer_id text NOT NULL,
  -- The profile (connected component) the identifier belongs to now.
  customer_id text NOT NULL,
  quarantined_reason text,
  -- lookup_key leads: it is nearly unique by itself, so a batch's lookups are index probes on it.
  UNIQUE (lookup_key, type, scope)
);
CREATE INDEX identity_identifiers_customer ON identity_identifiers (customer_id);
-- No index on hashed_lookup_key: only bulk merges read it, with one hash join per batch, and every
-- resolution would pay to maintain it.

-- The edge log, the source of truth: rows are never deleted; a retraction stamps retracted_at once.
-- One active row per identifier pair, holding the earliest event time that asserted it.
CREATE TABLE identity_edges (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  low_identifier bigint NOT NULL REFERENCES identity_identifiers (id),
  high_identifier bigint NOT NULL REFERENCES identity_identifiers (id),
  kind text NOT NULL CHECK (kind IN ('event', 'manual', 'link', 'bulk', 'review', 'probabilistic')),
  event_time timestamptz NOT NULL,
  event_source text,
  event_id text,
  score double precision,
  model_version text,
  batch_id text,
  actor text,
  consent_reference text,
  created_at timestamptz NOT NULL DEFAULT now(),
  retracted_at timestamptz,
  retraction_reason text,
  CHECK (low_identifier < high_identifier)
);
CREATE UNIQUE INDEX identity_edges_active_pair ON identity_edges (low_identifier, high_identifier)
  WHERE retracted_at IS NULL;
CREATE INDEX identity_edges_active_high ON identity_edges (high_identifier) WHERE retracted_at IS NULL;
CREATE INDEX identity_edges_batch ON identity_edges (batch_id) WHERE batch_id IS NOT NULL;

-- Edges that were refused when they arrived, with the reason (blocklist, caps, anchor conflict, …).
CREATE TABLE identity_rejected_edges (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  low_identifier bigint NOT NULL,
  high_identifier bigint NOT NULL,
  reason text NOT NULL,
  event_source text,
  event_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Pairs that must never be joined again (a reversed merge, a rejected review): replaying old events
-- cannot re-create the link.
CREATE TABLE identity_blocked_pairs (
  low_identifier bigint NOT NULL,
  high_identifier bigint NOT NULL,
  reason text NOT NULL,
  actor text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (low_identifier, high_identifier)
);

-- The single customer view. traits: non-PII fields; pii_traits: names and address, sealed as JSON;
-- trait_times: the event time of each field's value, so a late older event never overwrites a newer one.
CREATE TABLE identity_profiles (
  customer_id text PRIMARY KEY,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged')),
  merged_into text,
  version bigint NOT NULL DEFAULT 1,
  traits jsonb NOT NULL DEFAULT '{}',
  trait_times jsonb NOT NULL DEFAULT '{}',
  pii_traits text,
  pii_traits_key_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Blocking keys for probabilistic matching (blind indexes of postcode + phonetic surname).
CREATE TABLE identity_match_keys (
  blocking_key text NOT NULL,
  customer_id text NOT NULL,
  PRIMARY KEY (blocking_key, customer_id)
);
CREATE INDEX identity_match_keys_customer ON identity_match_keys (customer_id);

-- Every merge and split: who won, who lost, by which rule and edges, triggered by which event or person.
CREATE TABLE identity_lineage (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('merge', 'split')),
  winner text NOT NULL,
  loser text NOT NULL,
  rule text NOT NULL,
  edge_ids bigint[] NOT NULL DEFAULT '{}',
  event_source text,
  event_id text,
  actor text,
  batch_id text,
  reverted_by bigint,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_lineage_winner ON identity_lineage (winner);
CREATE INDEX identity_lineage_loser ON identity_lineage (loser);

-- membership.merged / membership.split events written in the same transaction as the change, for the
-- pipeline to publish (a transactional outbox: nothing is lost between commit and queue).
CREATE TABLE identity_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type text NOT NULL,
  event_id text NOT NULL UNIQUE,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX identity_outbox_unpublished ON identity_outbox (id) WHERE published_at IS NULL;

-- Probable matches between the thresholds, waiting for a person.
CREATE TABLE identity_review_pairs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  low_customer_id text NOT NULL,
  high_customer_id text NOT NULL,
  score double precision NOT NULL,
  model_version text NOT NULL,
  comparisons jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by text,
  decided_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (low_customer_id, high_customer_id)
);

-- One-time tokens that let a member link a legacy brand account to the group account.
CREATE TABLE identity_link_tokens (
  token_hash text PRIMARY KEY,
  customer_id text NOT NULL,
  identifier_id bigint NOT NULL REFERENCES identity_identifiers (id),
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Bulk merges for migrations: the dry-run report, then apply and roll back as one batch.
CREATE TABLE identity_bulk_batches (
  id text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('planned', 'applied', 'rolled_back')),
  actor text NOT NULL,
  report jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  applied_at timestamptz,
  rolled_back_at timestamptz
);
