-- Attribution edges are listed per contribution, contributor or model in chain order
-- (block_number, digest, position) with keyset pagination: index in that order so a page is an index
-- range scan, not a sort of every edge the key has (a popular contribution has hundreds of thousands).
DROP INDEX attribution_edges_by_contribution;
DROP INDEX attribution_edges_by_contributor;
DROP INDEX attribution_edges_by_model;
CREATE INDEX attribution_edges_by_contribution ON attribution_edges (contribution_id, block_number, digest, position);
CREATE INDEX attribution_edges_by_contributor ON attribution_edges (contributor, block_number, digest, position);
CREATE INDEX attribution_edges_by_model ON attribution_edges (model_id, block_number, digest, position);
