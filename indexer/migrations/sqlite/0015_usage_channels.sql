-- UsageChannels (docs/PROTOCOL.md, "UsageChannels"): channels, the vouchers settled on them with their
-- per-contribution amounts, and the receipts of the published logs that proved them. Same number and
-- the same tables on PostgreSQL.

-- A channel (an entity, journaled like the others): ChannelOpened, then ChannelFunded, VoucherSettled,
-- CloseRequested and ChannelClosed change it. state: open, closing (a close was asked for), closed.
CREATE TABLE channels (
    channel_id BIGINT PRIMARY KEY,
    payer TEXT NOT NULL,
    node TEXT NOT NULL,
    model_id BIGINT NOT NULL,
    signer TEXT NOT NULL,
    deposit TEXT NOT NULL,
    settled_fee TEXT NOT NULL,
    period BIGINT NOT NULL,
    closes_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    refund TEXT NOT NULL,
    settlement_count BIGINT NOT NULL,
    opened_block BIGINT NOT NULL,
    opened_tx TEXT NOT NULL
);
CREATE INDEX channels_by_payer ON channels (payer, channel_id);
CREATE INDEX channels_by_node ON channels (node, channel_id);
CREATE INDEX channels_by_model ON channels (model_id, channel_id);

-- VoucherSettled (a fact): the voucher as signed and where its log was published; the log_* columns
-- after log_uri_bytes are the log fetcher's (PENDING until it verified the log or gave up), the only
-- columns of a fact written after its batch.
CREATE TABLE voucher_settlements (
    digest TEXT PRIMARY KEY,
    channel_id BIGINT NOT NULL,
    period BIGINT NOT NULL,
    inferences BIGINT NOT NULL,
    start_fee TEXT NOT NULL,
    fee TEXT NOT NULL,
    amount TEXT NOT NULL,
    owner_share TEXT NOT NULL,
    base_share TEXT NOT NULL,
    node_share TEXT NOT NULL,
    data_share TEXT NOT NULL,
    log_root TEXT NOT NULL,
    log_uri TEXT NOT NULL,
    log_uri_bytes TEXT,
    block_number BIGINT NOT NULL,
    block_timestamp BIGINT,
    tx_hash TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    log_status TEXT NOT NULL DEFAULT 'PENDING',
    log_problem TEXT,
    log_attempts BIGINT NOT NULL DEFAULT 0,
    log_next_attempt BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX voucher_settlements_by_channel ON voucher_settlements (channel_id, period);
CREATE INDEX voucher_settlements_by_block ON voucher_settlements (block_number);
CREATE INDEX voucher_settlements_by_log_status ON voucher_settlements (log_status, log_next_attempt);

-- A settled voucher's amount to each contribution it names, in the voucher's (ascending) order.
CREATE TABLE voucher_contributions (
    digest TEXT NOT NULL,
    position BIGINT NOT NULL,
    contribution_id BIGINT NOT NULL,
    contributor TEXT NOT NULL,
    datanet_id BIGINT NOT NULL,
    model_id BIGINT NOT NULL,
    amount TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    PRIMARY KEY (digest, position)
);
CREATE INDEX voucher_contributions_by_contribution ON voucher_contributions (contribution_id, block_number);
CREATE INDEX voucher_contributions_by_block ON voucher_contributions (block_number);

-- The receipts of a verified log are inferences like the others: a row in receipts (digest: the
-- receipt's leaf in the log, block, transaction and log index: the VoucherSettled's) and its attribution
-- edges. settlement is the voucher's digest, channel_position the receipt's index in the log (0 for a
-- receipt settled alone, which has neither).
ALTER TABLE receipts ADD COLUMN settlement TEXT;
ALTER TABLE receipts ADD COLUMN channel_id BIGINT;
ALTER TABLE receipts ADD COLUMN channel_period BIGINT;
ALTER TABLE receipts ADD COLUMN channel_position BIGINT NOT NULL DEFAULT 0;
CREATE INDEX receipts_by_settlement ON receipts (settlement, channel_position);
