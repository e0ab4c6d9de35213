-- raw_events is kept in chain order: its primary key is (block_number, log_index, chain_id, block_hash)
-- and the table is clustered on it (WITHOUT ROWID), so a backfill appends to one B-tree where it used to
-- insert into two (the rows by rowid, and the key (chain_id, block_hash, log_index) apart, in hash
-- order): measured on the pipeline bench, the raw events were about two thirds of the batch writer's
-- time and that second B-tree half of theirs (docs/BENCHMARKS.md). The key still holds chain id, block
-- hash and log index; a block hash fixes the block's number, so it admits exactly the rows the old key
-- did. It also serves what raw_events_by_position served (reverts delete by block number, rebuilds
-- read in chain order), so that index goes, with its deferred_indexes row if a backfill set it aside.
CREATE TABLE raw_events_in_chain_order (
    chain_id BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    block_timestamp BIGINT,
    tx_hash TEXT NOT NULL,
    tx_index BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    contract TEXT NOT NULL,
    address TEXT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index, chain_id, block_hash)
) WITHOUT ROWID;
INSERT INTO raw_events_in_chain_order
    SELECT chain_id, block_number, block_hash, block_timestamp, tx_hash, tx_index, log_index, contract,
           address, event, data
    FROM raw_events;
DROP TABLE raw_events;
ALTER TABLE raw_events_in_chain_order RENAME TO raw_events;
DELETE FROM deferred_indexes WHERE name = 'raw_events_by_position';
