-- Soil indexer schema. The same file is applied to SQLite and PostgreSQL (see src/store/SCHEMA.md).
-- Conventions: integers are BIGINT; amounts (uint256) are TEXT in decimal without leading zeros
-- (order numerically with `ORDER BY LENGTH(x), x`); addresses and hashes are TEXT, 0x + lowercase hex;
-- flags are BIGINT 0/1.

-- Sync bookkeeping -------------------------------------------------------------------------------------

CREATE TABLE sync_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    chain_id BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    finalized_block BIGINT NOT NULL,
    head_block BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE block_hashes (
    block_number BIGINT PRIMARY KEY,
    block_hash TEXT NOT NULL,
    parent_hash TEXT NOT NULL
);

CREATE TABLE undo_journal (
    block_number BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    table_name TEXT NOT NULL,
    row_key TEXT NOT NULL,
    before_image TEXT,
    PRIMARY KEY (block_number, seq)
);

CREATE TABLE raw_events (
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
    PRIMARY KEY (chain_id, block_hash, log_index)
);
CREATE INDEX raw_events_by_position ON raw_events (block_number, log_index);
CREATE INDEX raw_events_by_event ON raw_events (event);

-- Entities (mutable; changes to unfinalised blocks are journalled in undo_journal) ------------------------

CREATE TABLE datanets (
    datanet_id BIGINT PRIMARY KEY,
    owner TEXT NOT NULL,
    min_stake TEXT NOT NULL,
    metadata_uri TEXT NOT NULL,
    created_block BIGINT NOT NULL,
    created_tx TEXT NOT NULL,
    curator_count BIGINT NOT NULL,
    contribution_count BIGINT NOT NULL,
    accepted_count BIGINT NOT NULL,
    rejected_count BIGINT NOT NULL,
    accepted_tokens BIGINT NOT NULL,
    slashed TEXT NOT NULL,
    release_count BIGINT NOT NULL,
    attributed_revenue TEXT NOT NULL,
    pool_revenue TEXT NOT NULL,
    revenue TEXT NOT NULL
);
CREATE INDEX datanets_by_owner ON datanets (owner);

CREATE TABLE curators (
    datanet_id BIGINT NOT NULL,
    curator TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    accepted_reviews BIGINT NOT NULL,
    rejected_reviews BIGINT NOT NULL,
    updated_block BIGINT NOT NULL,
    PRIMARY KEY (datanet_id, curator)
);
CREATE INDEX curators_by_curator ON curators (curator);

CREATE TABLE contributions (
    contribution_id BIGINT PRIMARY KEY,
    datanet_id BIGINT NOT NULL,
    contributor TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    token_count BIGINT NOT NULL,
    stake TEXT NOT NULL,
    uri TEXT NOT NULL,
    status TEXT NOT NULL,
    accepted_seq BIGINT NOT NULL,
    reviewer TEXT,
    slashed TEXT NOT NULL,
    stake_returned BIGINT NOT NULL,
    submitted_block BIGINT NOT NULL,
    submitted_tx TEXT NOT NULL,
    reviewed_block BIGINT,
    attribution_count BIGINT NOT NULL,
    attributed_earnings TEXT NOT NULL,
    pool_earnings TEXT NOT NULL,
    earnings TEXT NOT NULL
);
CREATE INDEX contributions_by_datanet ON contributions (datanet_id, contribution_id);
CREATE INDEX contributions_by_contributor ON contributions (contributor, contribution_id);

CREATE TABLE releases (
    release_id BIGINT PRIMARY KEY,
    datanet_id BIGINT NOT NULL,
    root TEXT NOT NULL,
    contribution_count BIGINT NOT NULL,
    token_count BIGINT NOT NULL,
    published_block BIGINT NOT NULL,
    published_tx TEXT NOT NULL,
    reward_per_token TEXT NOT NULL,
    pool_accrued TEXT NOT NULL,
    pool_claimed TEXT NOT NULL
);
CREATE INDEX releases_by_datanet ON releases (datanet_id, release_id);

CREATE TABLE models (
    model_id BIGINT PRIMARY KEY,
    owner TEXT NOT NULL,
    weights_hash TEXT NOT NULL,
    uri TEXT NOT NULL,
    price_per_kilo_token TEXT NOT NULL,
    owner_bps BIGINT NOT NULL,
    data_bps BIGINT NOT NULL,
    node_bps BIGINT NOT NULL,
    treasury_bps BIGINT NOT NULL,
    registered_block BIGINT NOT NULL,
    registered_tx TEXT NOT NULL,
    receipt_count BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    revenue TEXT NOT NULL,
    owner_revenue TEXT NOT NULL,
    data_revenue TEXT NOT NULL,
    node_revenue TEXT NOT NULL,
    treasury_revenue TEXT NOT NULL,
    attributed_revenue TEXT NOT NULL,
    pool_revenue TEXT NOT NULL
);
CREATE INDEX models_by_owner ON models (owner);

CREATE TABLE accounts (
    address TEXT PRIMARY KEY,
    first_block BIGINT NOT NULL,
    is_contributor BIGINT NOT NULL,
    is_curator BIGINT NOT NULL,
    is_payer BIGINT NOT NULL,
    is_node BIGINT NOT NULL,
    is_model_owner BIGINT NOT NULL,
    is_datanet_owner BIGINT NOT NULL,
    contribution_count BIGINT NOT NULL,
    accepted_count BIGINT NOT NULL,
    rejected_count BIGINT NOT NULL,
    accepted_tokens BIGINT NOT NULL,
    slashed TEXT NOT NULL,
    stake_returned TEXT NOT NULL,
    attributed_earnings TEXT NOT NULL,
    pool_earnings TEXT NOT NULL,
    earnings TEXT NOT NULL,
    owner_earnings TEXT NOT NULL,
    node_earnings TEXT NOT NULL,
    credited TEXT NOT NULL,
    claimed TEXT NOT NULL,
    deposited TEXT NOT NULL,
    withdrawn TEXT NOT NULL,
    spent TEXT NOT NULL,
    deposit_balance TEXT NOT NULL,
    receipts_paid BIGINT NOT NULL,
    receipts_served BIGINT NOT NULL
);

CREATE TABLE totals (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    event_count BIGINT NOT NULL,
    datanet_count BIGINT NOT NULL,
    contribution_count BIGINT NOT NULL,
    accepted_count BIGINT NOT NULL,
    rejected_count BIGINT NOT NULL,
    release_count BIGINT NOT NULL,
    model_count BIGINT NOT NULL,
    receipt_count BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    fees TEXT NOT NULL,
    owner_revenue TEXT NOT NULL,
    data_revenue TEXT NOT NULL,
    node_revenue TEXT NOT NULL,
    treasury_revenue TEXT NOT NULL,
    attributed_revenue TEXT NOT NULL,
    pool_accrued TEXT NOT NULL,
    pool_claimed TEXT NOT NULL,
    credited TEXT NOT NULL,
    claimed TEXT NOT NULL,
    deposited TEXT NOT NULL,
    withdrawn TEXT NOT NULL,
    slashed TEXT NOT NULL
);

CREATE TABLE parameters (
    contract TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_block BIGINT NOT NULL,
    PRIMARY KEY (contract, name)
);

-- Facts (insert-only, one row per event or per part of one; a revert deletes rows above the ancestor) -------

CREATE TABLE model_releases (
    model_id BIGINT NOT NULL,
    release_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    PRIMARY KEY (model_id, release_id)
);
CREATE INDEX model_releases_by_release ON model_releases (release_id);

CREATE TABLE receipts (
    digest TEXT PRIMARY KEY,
    payer TEXT NOT NULL,
    model_id BIGINT NOT NULL,
    node TEXT NOT NULL,
    nonce TEXT NOT NULL,
    fee TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    output_hash TEXT NOT NULL,
    output_uri TEXT NOT NULL,
    attribution TEXT NOT NULL,
    owner_amount TEXT NOT NULL,
    data_amount TEXT NOT NULL,
    node_amount TEXT NOT NULL,
    treasury_amount TEXT NOT NULL,
    attributed_amount TEXT NOT NULL,
    unattributed_amount TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    block_timestamp BIGINT,
    tx_hash TEXT NOT NULL,
    log_index BIGINT NOT NULL
);
CREATE INDEX receipts_by_model ON receipts (model_id, block_number, log_index);
CREATE INDEX receipts_by_payer ON receipts (payer, block_number, log_index);
CREATE INDEX receipts_by_node ON receipts (node, block_number, log_index);
CREATE INDEX receipts_by_position ON receipts (block_number, log_index);

CREATE TABLE attribution_edges (
    digest TEXT NOT NULL,
    position BIGINT NOT NULL,
    contribution_id BIGINT NOT NULL,
    contributor TEXT NOT NULL,
    datanet_id BIGINT NOT NULL,
    model_id BIGINT NOT NULL,
    weight_ppm BIGINT NOT NULL,
    amount TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    PRIMARY KEY (digest, position)
);
CREATE INDEX attribution_edges_by_contribution ON attribution_edges (contribution_id);
CREATE INDEX attribution_edges_by_contributor ON attribution_edges (contributor);
CREATE INDEX attribution_edges_by_model ON attribution_edges (model_id);
CREATE INDEX attribution_edges_by_block ON attribution_edges (block_number);

CREATE TABLE pool_accruals (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    release_id BIGINT NOT NULL,
    model_id BIGINT NOT NULL,
    amount TEXT NOT NULL,
    reward_per_token TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX pool_accruals_by_release ON pool_accruals (release_id);

CREATE TABLE pool_claims (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    release_id BIGINT NOT NULL,
    contribution_id BIGINT NOT NULL,
    contributor TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX pool_claims_by_contribution ON pool_claims (contribution_id);
CREATE INDEX pool_claims_by_contributor ON pool_claims (contributor);

CREATE TABLE credits (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    account TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX credits_by_account ON credits (account);

CREATE TABLE claims (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    account TEXT NOT NULL,
    recipient TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX claims_by_account ON claims (account);

CREATE TABLE deposits (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    payer TEXT NOT NULL,
    sender TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX deposits_by_payer ON deposits (payer);

CREATE TABLE withdrawals (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    payer TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount TEXT NOT NULL,
    unlock_at BIGINT,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX withdrawals_by_payer ON withdrawals (payer);

CREATE TABLE stake_returns (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    contribution_id BIGINT NOT NULL,
    contributor TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);

CREATE TABLE reviews (
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
);
CREATE INDEX reviews_by_contribution ON reviews (contribution_id);

CREATE TABLE nonce_invalidations (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    payer TEXT NOT NULL,
    word_pos TEXT NOT NULL,
    mask TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
