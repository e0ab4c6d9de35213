-- The chain's event tables (one row per log, primary key (block_number, log_index)) are clustered on
-- that key (WITHOUT ROWID), as raw_events is since 0008: a backfill appends each row to one B-tree where
-- it used to insert into two, the rows by rowid and the key's own index apart. Measured on the pipeline
-- bench, that second B-tree was a third of the writer's time on pool_claims and credits, the two tables
-- with a row per claimed contribution (docs/BENCHMARKS.md). Rows are small (under 300 bytes), as
-- WITHOUT ROWID wants; the key admits exactly the rows it did. Each table is rebuilt with its rows
-- copied over, and its secondary indexes are built again on it at once: a store whose indexes a
-- backfill set aside (deferred_indexes) gets them back now, and their recorded definitions go.

CREATE TABLE pool_accruals_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    release_id BIGINT NOT NULL,
    model_id BIGINT NOT NULL,
    amount TEXT NOT NULL,
    reward_per_token TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO pool_accruals_in_chain_order (block_number, log_index, tx_hash, release_id, model_id, amount, reward_per_token)
    SELECT block_number, log_index, tx_hash, release_id, model_id, amount, reward_per_token FROM pool_accruals;
DROP TABLE pool_accruals;
ALTER TABLE pool_accruals_in_chain_order RENAME TO pool_accruals;
DELETE FROM deferred_indexes WHERE name = 'pool_accruals_by_release';
CREATE INDEX pool_accruals_by_release ON pool_accruals (release_id);

CREATE TABLE pool_claims_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    release_id BIGINT NOT NULL,
    contribution_id BIGINT NOT NULL,
    contributor TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO pool_claims_in_chain_order (block_number, log_index, tx_hash, release_id, contribution_id, contributor, amount)
    SELECT block_number, log_index, tx_hash, release_id, contribution_id, contributor, amount FROM pool_claims;
DROP TABLE pool_claims;
ALTER TABLE pool_claims_in_chain_order RENAME TO pool_claims;
DELETE FROM deferred_indexes WHERE name = 'pool_claims_by_contribution';
CREATE INDEX pool_claims_by_contribution ON pool_claims (contribution_id);
DELETE FROM deferred_indexes WHERE name = 'pool_claims_by_contributor';
CREATE INDEX pool_claims_by_contributor ON pool_claims (contributor);

CREATE TABLE credits_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    account TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO credits_in_chain_order (block_number, log_index, tx_hash, account, amount)
    SELECT block_number, log_index, tx_hash, account, amount FROM credits;
DROP TABLE credits;
ALTER TABLE credits_in_chain_order RENAME TO credits;
DELETE FROM deferred_indexes WHERE name = 'credits_by_account';
CREATE INDEX credits_by_account ON credits (account);

CREATE TABLE claims_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    account TEXT NOT NULL,
    recipient TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO claims_in_chain_order (block_number, log_index, tx_hash, account, recipient, amount)
    SELECT block_number, log_index, tx_hash, account, recipient, amount FROM claims;
DROP TABLE claims;
ALTER TABLE claims_in_chain_order RENAME TO claims;
DELETE FROM deferred_indexes WHERE name = 'claims_by_account';
CREATE INDEX claims_by_account ON claims (account);

CREATE TABLE deposits_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    payer TEXT NOT NULL,
    sender TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO deposits_in_chain_order (block_number, log_index, tx_hash, payer, sender, amount)
    SELECT block_number, log_index, tx_hash, payer, sender, amount FROM deposits;
DROP TABLE deposits;
ALTER TABLE deposits_in_chain_order RENAME TO deposits;
DELETE FROM deferred_indexes WHERE name = 'deposits_by_payer';
CREATE INDEX deposits_by_payer ON deposits (payer);

CREATE TABLE withdrawals_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    payer TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount TEXT NOT NULL,
    unlock_at BIGINT,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO withdrawals_in_chain_order (block_number, log_index, tx_hash, payer, kind, amount, unlock_at)
    SELECT block_number, log_index, tx_hash, payer, kind, amount, unlock_at FROM withdrawals;
DROP TABLE withdrawals;
ALTER TABLE withdrawals_in_chain_order RENAME TO withdrawals;
DELETE FROM deferred_indexes WHERE name = 'withdrawals_by_payer';
CREATE INDEX withdrawals_by_payer ON withdrawals (payer);

CREATE TABLE stake_returns_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    contribution_id BIGINT NOT NULL,
    contributor TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO stake_returns_in_chain_order (block_number, log_index, tx_hash, contribution_id, contributor, amount)
    SELECT block_number, log_index, tx_hash, contribution_id, contributor, amount FROM stake_returns;
DROP TABLE stake_returns;
ALTER TABLE stake_returns_in_chain_order RENAME TO stake_returns;

CREATE TABLE reviews_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    contribution_id BIGINT NOT NULL,
    datanet_id BIGINT NOT NULL,
    curator TEXT NOT NULL,
    accepted BIGINT NOT NULL,
    accepted_seq BIGINT NOT NULL,
    slashed TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO reviews_in_chain_order (block_number, log_index, tx_hash, contribution_id, datanet_id, curator, accepted, accepted_seq, slashed)
    SELECT block_number, log_index, tx_hash, contribution_id, datanet_id, curator, accepted, accepted_seq, slashed FROM reviews;
DROP TABLE reviews;
ALTER TABLE reviews_in_chain_order RENAME TO reviews;
DELETE FROM deferred_indexes WHERE name = 'reviews_by_contribution';
CREATE INDEX reviews_by_contribution ON reviews (contribution_id);

CREATE TABLE nonce_invalidations_in_chain_order (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    payer TEXT NOT NULL,
    word_pos TEXT NOT NULL,
    mask TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
INSERT INTO nonce_invalidations_in_chain_order (block_number, log_index, tx_hash, payer, word_pos, mask)
    SELECT block_number, log_index, tx_hash, payer, word_pos, mask FROM nonce_invalidations;
DROP TABLE nonce_invalidations;
ALTER TABLE nonce_invalidations_in_chain_order RENAME TO nonce_invalidations;
