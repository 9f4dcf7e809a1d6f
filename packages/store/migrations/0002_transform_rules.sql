-- Transformation rules (packages/rule-book). Forward-only: never edit this file once released; add 0003_….

-- Every saved version of a brand destination's rule set (CEL mappings, conditions, segment rules), checked
-- before it is written. Append-only: the current rules are the highest version; older ones are the history
-- (who changed what, and when) and what a rollback copies from.
CREATE TABLE transform_rule_versions (
  destination_id text NOT NULL,
  version integer NOT NULL,
  brand text NOT NULL,
  rules jsonb NOT NULL,
  saved_at timestamptz NOT NULL,
  saved_by text NOT NULL,
  PRIMARY KEY (destination_id, version)
);
