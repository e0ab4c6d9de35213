-- attributionGraph (api/graph.rs) reaches inferences through their attribution edges and sizes each by
-- its receipt's fee. Each edge now carries that fee (a receipt's fee never changes), and the index by
-- contribution holds every column the walk reads (an index-only scan), so a walk from a contributor
-- reads one index range per contribution: no heap fetch per edge, no look-up of each receipt by digest.
ALTER TABLE attribution_edges ADD COLUMN fee TEXT;
UPDATE attribution_edges SET fee = receipts.fee FROM receipts WHERE receipts.digest = attribution_edges.digest;
ALTER TABLE attribution_edges ALTER COLUMN fee SET NOT NULL;
-- The index may be set aside by a backfill (store/indexes.rs): it is made here either way.
DROP INDEX IF EXISTS attribution_edges_by_contribution;
DELETE FROM deferred_indexes WHERE name = 'attribution_edges_by_contribution';
CREATE INDEX attribution_edges_by_contribution ON attribution_edges (contribution_id, block_number, digest, position) INCLUDE (weight_ppm, amount, fee);
