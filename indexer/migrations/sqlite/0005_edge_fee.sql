-- attributionGraph (api/graph.rs) reaches inferences through their attribution edges and sizes each by
-- its receipt's fee. Each edge now carries that fee (a receipt's fee never changes), and the index by
-- contribution holds every column the walk reads, so a walk from a contributor reads one index range
-- per contribution: no seek into the edges table per edge, no look-up of each receipt by digest.
ALTER TABLE attribution_edges ADD COLUMN fee TEXT NOT NULL DEFAULT '0';
UPDATE attribution_edges SET fee = (SELECT fee FROM receipts WHERE receipts.digest = attribution_edges.digest);
-- The index may be set aside by a backfill (store/indexes.rs): it is made here either way.
DROP INDEX IF EXISTS attribution_edges_by_contribution;
DELETE FROM deferred_indexes WHERE name = 'attribution_edges_by_contribution';
CREATE INDEX attribution_edges_by_contribution ON attribution_edges (contribution_id, block_number, digest, position, weight_ppm, amount, fee);
