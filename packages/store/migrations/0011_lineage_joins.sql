-- Every join is in lineage (issue 19): a new identifier joining an existing profile through a shared one is a
-- 'join' (no second profile existed, so nothing is announced to the ESPs), reversible by its lineage id like a
-- merge. `basis` says why the join holds: the shared identifier ('shared email'), the member's own proof
-- ('account.linked'), or the kind of decision ('manual', 'review', 'bulk', 'probabilistic'); null on rekeys,
-- splits and rows written before this migration.
ALTER TABLE identity_lineage DROP CONSTRAINT identity_lineage_kind_check;
ALTER TABLE identity_lineage ADD CONSTRAINT identity_lineage_kind_check CHECK (kind IN ('merge', 'split', 'join'));
ALTER TABLE identity_lineage ADD COLUMN basis text;
