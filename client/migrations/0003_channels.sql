-- Usage channels this wallet signs vouchers for (docs/PROTOCOL.md, "UsageChannels").
-- Per channel: the inferences signed so far (the last receipt's nonce) and where its logs are published.
CREATE TABLE channels (
    channel_id  INTEGER PRIMARY KEY,
    model_id    INTEGER NOT NULL,
    inferences  INTEGER NOT NULL DEFAULT 0,
    log_base    TEXT    NOT NULL DEFAULT ''   -- a period's logURI is <log_base>/0x<logRoot> ('' : none)
);

-- A channel's periods. New inferences go to the one period in state 'open'; its latest signed voucher is
-- kept with it. A cut (choosing the voucher to settle) turns the open period into 'cut' and opens the next
-- period at the cut voucher's fee, in one transaction. A cut period goes 'in_flight' with the hash of its
-- signed `settle` transaction BEFORE that is broadcast, and 'settled' once the chain moved past it.
CREATE TABLE channel_periods (
    channel_id  INTEGER NOT NULL REFERENCES channels (channel_id),
    period      INTEGER NOT NULL,
    start_fee   TEXT    NOT NULL,              -- decimal uint256: the fee settled before the period
    voucher     BLOB,                          -- abi.encode(Voucher), the latest signed (NULL: no inference yet)
    signature   BLOB,                          -- its 65-byte (r, s, v) signature
    log_root    TEXT,                          -- the voucher's logRoot, 0x-hex
    state       TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'cut', 'in_flight', 'settled')),
    tx_hash     TEXT,                          -- the settle transaction while in flight, and once settled
    first_at    INTEGER,                       -- unix seconds of the period's first inference
    last_error  TEXT,
    PRIMARY KEY (channel_id, period)
);

CREATE INDEX channel_periods_root ON channel_periods (log_root);

-- The receipts log of each period: every inference's receipt and attribution, in order.
CREATE TABLE channel_entries (
    channel_id  INTEGER NOT NULL,
    period      INTEGER NOT NULL,
    position    INTEGER NOT NULL,              -- 0-based index in the period's log
    receipt     BLOB    NOT NULL,              -- abi.encode(UsageReceipt)
    attribution BLOB    NOT NULL,              -- packed (uint64 id, uint32 ppm) * n
    leaf        BLOB    NOT NULL,              -- its 32-byte log leaf
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (channel_id, period, position),
    FOREIGN KEY (channel_id, period) REFERENCES channel_periods (channel_id, period)
);
