-- Secondary indexes set aside while a long backfill runs (store/indexes.rs): each one's definition is
-- kept here in the transaction that drops it, and the index is rebuilt from it once the backfill is
-- caught up (by the next run of the syncer if the process was killed meanwhile).
CREATE TABLE deferred_indexes (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL
);
