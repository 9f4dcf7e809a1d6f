-- Platform merges (packages/identity-graph, `mergeByEvents`). Forward-only: never edit this file once released.

-- A group customer id the loyalty platform merged into another one (`membership.merged`): the customer id it
-- was retired into. It still resolves to the surviving profile, but no longer counts as an anchor there, so
-- the two customer ids do not conflict and the survivor's own one names the profile.
ALTER TABLE identity_identifiers ADD COLUMN retired_into text;
