-- `Release.models` is a page of model ids of one release: index (release_id, model_id) so a page is one
-- index range scan in key order (it was on release_id alone). A store whose secondary indexes are set
-- aside mid-backfill (deferred_indexes) has no such index and a recorded definition of the old one:
-- both are replaced, and the new index is built now (the table holds a row per model and release).
DROP INDEX IF EXISTS model_releases_by_release;
DELETE FROM deferred_indexes WHERE name = 'model_releases_by_release';
CREATE INDEX model_releases_by_release ON model_releases (release_id, model_id);
