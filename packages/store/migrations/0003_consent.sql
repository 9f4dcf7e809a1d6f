-- The consent ledger and everything kept for regulators (packages/consent). Forward-only: never edit this
-- file once released; add 0004_….

-- Append-only: every consent decision ever recorded, keyed by contact point (blind index) and brand, never
-- by person. Rows are never updated or deleted, not even by erasure (they hold no plaintext PII).
CREATE TABLE consent_ledger (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subject_type text NOT NULL,
  subject_key text NOT NULL,
  customer_id text,
  brand text NOT NULL,
  channel text NOT NULL,
  purpose text NOT NULL,
  decision text NOT NULL,
  legal_basis text NOT NULL,
  source text NOT NULL,
  notice_version text,
  proof_ref text,
  proof jsonb,
  captured_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  actor text NOT NULL,
  -- A retried input (same event, same ESP unsubscribe event) is recorded once.
  dedupe_key text NOT NULL UNIQUE
);
CREATE INDEX consent_ledger_subject ON consent_ledger (subject_key, brand, channel, purpose, captured_at);
CREATE INDEX consent_ledger_customer ON consent_ledger (customer_id, received_at);
CREATE INDEX consent_ledger_received ON consent_ledger (received_at);

-- The current decision per contact point and scope: derived from the ledger (a fold, kept in step in the
-- same transaction as each append) so that the gate reads one row. Rebuildable from the ledger at any time.
CREATE TABLE consent_state (
  subject_key text NOT NULL,
  brand text NOT NULL,
  channel text NOT NULL,
  purpose text NOT NULL,
  subject_type text NOT NULL,
  decision text NOT NULL,
  legal_basis text NOT NULL,
  captured_at timestamptz NOT NULL,
  ledger_id bigint NOT NULL,
  PRIMARY KEY (subject_key, brand, channel, purpose)
);

-- Contact points nothing may be sent to but suppression and deletion calls. Keyed by blind index: survives
-- erasure (hash, reason, time only). brand '*' suppresses for every brand.
CREATE TABLE suppression_list (
  subject_key text NOT NULL,
  brand text NOT NULL,
  subject_type text NOT NULL,
  reason text NOT NULL,
  suppressed_at timestamptz NOT NULL,
  PRIMARY KEY (subject_key, brand)
);

-- Every consent change and every export, for "who did what to whose data, and when".
CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  customer_id text,
  subject_key text,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_customer ON audit_log (customer_id, at);
CREATE INDEX audit_log_at ON audit_log (at);

-- Data subject requests (access, erasure) as tracked jobs; identities are kept as blind indexes only.
CREATE TABLE dsr_requests (
  id text PRIMARY KEY,
  type text NOT NULL,
  status text NOT NULL,
  subject_keys text[] NOT NULL,
  customer_ids text[] NOT NULL,
  requested_at timestamptz NOT NULL,
  due_at timestamptz NOT NULL,
  completed_at timestamptz,
  requested_by text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX dsr_requests_status ON dsr_requests (status, due_at);

-- What each destination answered to a request.
CREATE TABLE dsr_destination_results (
  request_id text NOT NULL REFERENCES dsr_requests (id),
  destination_id text NOT NULL,
  status text NOT NULL,
  detail text,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (request_id, destination_id)
);
