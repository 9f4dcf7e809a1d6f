-- The pipeline's tables (packages/pipeline): the raw event log, destination and source control, the delivery
-- log, dead letters and inbound cursors. Forward-only: never edit this file once released; add 0005_….

-- Every accepted event, as the intake handed it over: what rehydration (re-running a profile's events or a
-- time range) reads back. The payload is the whole IngestedEvent sealed with the PiiVault (it carries emails
-- and phones); the clear columns hold no PII. The primary key is the authoritative dedupe of retried sends.
CREATE TABLE raw_events (
  source_id text NOT NULL,
  event_source text NOT NULL,
  event_id text NOT NULL,
  brand text NOT NULL,
  type text NOT NULL,
  received_at timestamptz NOT NULL,
  event_time timestamptz,
  -- The profile the event resolved to (null: no usable identifier, or not resolved yet).
  customer_id text,
  -- How far the event has come: a job run twice (a stalled job, a crash) redoes only what is left.
  resolved_at timestamptz,
  routed_at timestamptz,
  payload_ciphertext text NOT NULL,
  payload_key_id text NOT NULL,
  PRIMARY KEY (source_id, event_source, event_id)
);
CREATE INDEX raw_events_customer ON raw_events (customer_id, received_at);
CREATE INDEX raw_events_received ON raw_events (received_at);

-- Bumped on every change an operator or the system makes to destination_states or source_holds, so that
-- workers polling every second reload only when something changed (max(changed_at) can tie within a
-- millisecond; a sequence cannot).
CREATE SEQUENCE pipeline_control_revision;

-- One row per destination instance of a brand. The workspace file only inserts missing rows: a state an
-- operator (or the auth-failure breaker) set survives restarts.
CREATE TABLE destination_states (
  destination_id text PRIMARY KEY,
  brand text NOT NULL,
  type text NOT NULL,
  state text NOT NULL CHECK (state IN ('enabled', 'paused', 'disabled')),
  reason text,
  changed_by text NOT NULL,
  changed_at timestamptz NOT NULL,
  consecutive_auth_failures integer NOT NULL DEFAULT 0,
  revision bigint NOT NULL DEFAULT nextval('pipeline_control_revision')
);

-- Sources an operator holds: their events are kept but not processed until released.
CREATE TABLE source_holds (
  source_id text PRIMARY KEY,
  held boolean NOT NULL,
  reason text,
  changed_by text NOT NULL,
  changed_at timestamptz NOT NULL,
  revision bigint NOT NULL DEFAULT nextval('pipeline_control_revision')
);

-- What was sent where and how it ended, per item: idempotent replay, support questions and the DSR export.
-- Event keys are nullable: an item replayed from a dead letter need not come from a stored event.
CREATE TABLE delivery_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source_id text,
  event_source text,
  event_id text,
  brand text NOT NULL,
  customer_id text,
  destination_id text NOT NULL,
  operation text NOT NULL,
  -- The idempotency key of the delivered item.
  item_key text NOT NULL,
  status text NOT NULL CHECK (status IN ('delivered', 'rejected', 'dead_lettered', 'dropped')),
  detail text,
  attempts integer NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX delivery_log_customer ON delivery_log (customer_id, at);
CREATE INDEX delivery_log_event ON delivery_log (source_id, event_source, event_id);
CREATE INDEX delivery_log_item ON delivery_log (destination_id, item_key);
CREATE INDEX delivery_log_at ON delivery_log (at);

-- Items a destination would not take, kept for inspection and replay. The item holds emails: sealed with the
-- PiiVault (item_ciphertext_key_id is the vault key's id, not to be confused with item_key). error and
-- esp_answer are stored with contact points redacted.
CREATE TABLE dead_letters (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  brand text NOT NULL,
  destination_id text NOT NULL,
  operation text NOT NULL,
  item_key text NOT NULL,
  item_ciphertext text NOT NULL,
  item_ciphertext_key_id text NOT NULL,
  source_id text,
  event_source text,
  event_id text,
  customer_id text,
  error_class text NOT NULL CHECK (error_class IN ('validation', 'auth', 'retryable', 'rejected')),
  error text NOT NULL,
  esp_answer text,
  attempts integer NOT NULL,
  first_failed_at timestamptz NOT NULL,
  last_failed_at timestamptz NOT NULL,
  replayed_at timestamptz,
  replay_count integer NOT NULL DEFAULT 0
);
-- At most one waiting letter per item: a repeated failure updates it (ON CONFLICT on this partial index);
-- once replayed, a new failure of the same item starts a new letter.
CREATE UNIQUE INDEX dead_letters_waiting_item ON dead_letters (destination_id, item_key) WHERE replayed_at IS NULL;
CREATE INDEX dead_letters_browse ON dead_letters (brand, destination_id, error_class, id);

-- Where each destination's inbound poll (unsubscribes, bounces) left off.
CREATE TABLE inbound_cursors (
  destination_id text PRIMARY KEY,
  cursor text NOT NULL,
  polled_at timestamptz NOT NULL
);
