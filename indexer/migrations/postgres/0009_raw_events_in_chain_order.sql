-- raw_events' primary key is (block_number, log_index, chain_id, block_hash), in chain order, so a
-- backfill's COPY appends at the right edge of its B-tree (where it inserted in hash order, on
-- (chain_id, block_hash, log_index)). It still holds chain id, block hash and log index; a block hash
-- fixes the block's number, so it admits exactly the rows the old key did. It also serves what
-- raw_events_by_position served (reverts delete by block number, rebuilds read in chain order), so that
-- index goes, with its deferred_indexes row if a backfill set it aside. See SQLite's 0008.
ALTER TABLE raw_events DROP CONSTRAINT raw_events_pkey;
ALTER TABLE raw_events ADD PRIMARY KEY (block_number, log_index, chain_id, block_hash);
DROP INDEX IF EXISTS raw_events_by_position;
DELETE FROM deferred_indexes WHERE name = 'raw_events_by_position';
