-- The contracts' second version (see src/store/SCHEMA.md, "Changes since the first migration"). Same
-- number and the same tables on PostgreSQL, whose TEXT columns are in byte order ("C") besides.
--
-- ReceiptSettled carries the whole signed receipt: each receipt row also keeps what its EIP-712 digest
-- is computed from beyond what it held (prompt hash, deadline, attribution version and hash; the output
-- URI's exact bytes when its text is not them), so the digest can be recomputed from the row alone.
-- Receipts settled by the previous escrow, whose event did not carry these, keep zeros in them.
ALTER TABLE receipts ADD COLUMN prompt_hash TEXT NOT NULL DEFAULT '0x0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE receipts ADD COLUMN output_uri_bytes TEXT;
ALTER TABLE receipts ADD COLUMN deadline BIGINT NOT NULL DEFAULT 0;
ALTER TABLE receipts ADD COLUMN attribution_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE receipts ADD COLUMN attribution_hash TEXT NOT NULL DEFAULT '0x0000000000000000000000000000000000000000000000000000000000000000';

-- A datanet's review window and per-contribution token bound (0: created by the previous registry).
ALTER TABLE datanets ADD COLUMN review_window BIGINT NOT NULL DEFAULT 0;
ALTER TABLE datanets ADD COLUMN max_contribution_tokens BIGINT NOT NULL DEFAULT 0;

-- A model's scheduled price change (NULL: none): receipts whose deadline is at or after next_price_at
-- pay next_price_per_kilo_token, earlier ones price_per_kilo_token.
ALTER TABLE models ADD COLUMN next_price_per_kilo_token TEXT;
ALTER TABLE models ADD COLUMN next_price_at BIGINT;

-- Σ Swept: what the escrow held beyond what it owed, credited to the treasury.
ALTER TABLE totals ADD COLUMN swept TEXT NOT NULL DEFAULT '0';

-- The escrow no longer has NoncesInvalidated.
DROP TABLE nonce_invalidations;

-- ReceiptSkipped: a receipt of a settle batch that did not settle (anyone can send garbage), kept apart
-- from every money figure. Clustered on the chain-order key like the other event tables (0009).
CREATE TABLE skipped_receipts (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    batch_index BIGINT NOT NULL,
    digest TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
CREATE INDEX skipped_receipts_by_digest ON skipped_receipts (digest, block_number, log_index);
