-- The receipt outbox: signed usage receipts waiting to be settled.
-- A row is written (state 'pending') before anything is sent; it becomes 'in_flight' with the hash of
-- the signed settlement transaction BEFORE that transaction is broadcast, and is deleted only once the
-- settlement is final. Receipts the escrow rejects for good are kept as 'failed' with the reason.
CREATE TABLE receipts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    digest          TEXT    NOT NULL UNIQUE,   -- EIP-712 digest, 0x-hex
    payer           TEXT    NOT NULL,          -- 0x-hex address
    nonce           TEXT    NOT NULL,          -- 0x-hex uint256
    deadline        INTEGER NOT NULL,          -- unix seconds
    fee             TEXT    NOT NULL,          -- decimal uint256
    receipt         BLOB    NOT NULL,          -- abi.encode(UsageReceipt)
    attribution     BLOB    NOT NULL,          -- packed (uint64 id, uint32 ppm) * n
    signature       BLOB    NOT NULL,          -- 65-byte (r, s, v)
    output_uri      TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'failed')),
    tx_hash         TEXT,                      -- settlement transaction while in flight
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0, -- unix seconds: backoff after a failed attempt
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);

CREATE INDEX receipts_due ON receipts (state, next_attempt_at, id);
CREATE INDEX receipts_tx ON receipts (tx_hash);
