-- The control plane (packages/control-plane): the workspace as the console edits it, and the API keys that
-- may edit it. Forward-only: never edit this file once released.
--
-- The workspace file and the demo are applied here at every start; every process reads its brands, sources
-- and destinations from these tables and reloads them when the shared revision moves. Nothing is deleted:
-- a removed row keeps its history and bumps the revision, so pollers see the removal.

CREATE TABLE workspace_brands (
  id text PRIMARY KEY,
  name text NOT NULL,
  default_country text NOT NULL,
  -- Who declared it: `workspace` (the file or the demo) or `console`.
  origin text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  revision bigint NOT NULL DEFAULT nextval('pipeline_control_revision')
);

CREATE TABLE workspace_sources (
  id text PRIMARY KEY,
  brand text NOT NULL REFERENCES workspace_brands (id),
  type_map jsonb NOT NULL DEFAULT '{}'::jsonb,
  rate_limit integer,
  origin text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  revision bigint NOT NULL DEFAULT nextval('pipeline_control_revision')
);

-- Standard Webhooks secrets, sealed with the master key (the intake needs them in the clear to verify).
-- `digest` (SHA-256 of the secret, hex) recognises a declared secret again without opening every one.
-- Two may be live at once while a secret is rotated: the old one until `expires_at`.
CREATE TABLE workspace_source_secrets (
  id text PRIMARY KEY,
  source_id text NOT NULL REFERENCES workspace_sources (id),
  key_id text NOT NULL,
  sealed bytea NOT NULL,
  digest text NOT NULL,
  origin text NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz,
  revoked_at timestamptz,
  revision bigint NOT NULL DEFAULT nextval('pipeline_control_revision')
);
CREATE INDEX workspace_source_secrets_source ON workspace_source_secrets (source_id);

-- A brand's destination instance. Its settings as declared (defaults and derived values are resolved by its
-- package at load), sealed whole: they hold API keys. Its rules live in transform_rule_versions, its state
-- in destination_states. `declared_digest` is the digest of the workspace file's declaration last applied,
-- so that a console edit survives restarts until the file itself changes.
CREATE TABLE workspace_destinations (
  id text PRIMARY KEY,
  brand text NOT NULL REFERENCES workspace_brands (id),
  type text NOT NULL,
  key_id text NOT NULL,
  settings_sealed bytea NOT NULL,
  plugins jsonb NOT NULL DEFAULT '[]'::jsonb,
  origin text NOT NULL,
  declared_digest text,
  mappings_digest text,
  removed_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  revision bigint NOT NULL DEFAULT nextval('pipeline_control_revision')
);

-- API keys of the control plane: only a SHA-256 of the secret part is kept (keys carry 256 random bits).
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'marketer', 'operator', 'auditor')),
  secret_hash bytea NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz
);

CREATE INDEX audit_log_action ON audit_log (action, at);

-- An operator may discard a dead letter (it will never be sent). A discarded letter is closed like a
-- replayed one (`replayed_at` set: it no longer waits, and a new failure of the item starts a new letter);
-- these say that it was discarded, by whom and why.
ALTER TABLE dead_letters ADD COLUMN discarded_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN discarded_by text;
ALTER TABLE dead_letters ADD COLUMN discard_reason text;

-- The probable-match scan (`maintenance.matching`, every minute) reads the active profiles changed after its
-- cursor in `schedule_cursors`, in order of (updated_at, customer_id).
CREATE INDEX identity_profiles_changed ON identity_profiles (updated_at, customer_id) WHERE status = 'active';
