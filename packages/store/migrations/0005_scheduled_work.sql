-- The pipeline's scheduled work (packages/pipeline). Forward-only: never edit this file once released.

-- Where a scheduled scan stopped, by name (`points-stagnation:<brand>`): a run resumes after the last row it
-- handled, so a crash repeats at most one page and a finished run is never redone.
CREATE TABLE schedule_cursors (
  name text PRIMARY KEY,
  cursor jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);

-- The points-stagnation check reads active profiles in order of when their points balance last moved (the
-- trait's event time, an ISO 8601 string from toISOString: text order is time order), from its cursor.
CREATE INDEX identity_profiles_points_moved ON identity_profiles ((trait_times ->> 'points_balance'), customer_id)
  WHERE status = 'active' AND trait_times ? 'points_balance';
