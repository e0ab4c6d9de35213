//! Errors of the client library. Every variant names what went wrong in words a user can act on; the
//! binary's edge (`src/main.rs`) prints them through `anyhow`.

use std::path::PathBuf;

use alloy::primitives::{B256, U256};

/// What can go wrong in the client library.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Neither a keystore nor a raw key was given.
    #[error(
        "no wallet: pass --keystore PATH (password from a prompt or SOIL_KEYSTORE_PASSWORD) or set SOIL_PRIVATE_KEY"
    )]
    NoWallet,
    /// The keystore could not be decrypted with the password given.
    #[error("cannot open keystore {path}: wrong password (or the file is not a valid keystore)")]
    KeystorePassword {
        /// The keystore file.
        path: PathBuf,
    },
    /// The keystore file could not be read, written or parsed.
    #[error("keystore {path}: {reason}")]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Creating a keystore would overwrite an existing file.
    #[error("keystore {0} already exists; refusing to overwrite it")]
    KeystoreExists(PathBuf),
    /// `SOIL_PRIVATE_KEY` is not a private key.
    #[error("SOIL_PRIVATE_KEY is not a 32-byte hex private key")]
    InvalidPrivateKey,
    /// The password could not be read from the terminal.
    #[error("cannot read the keystore password: {0}")]
    PasswordPrompt(std::io::Error),
    /// The two passwords typed for a new keystore differ.
    #[error("the passwords do not match")]
    PasswordMismatch,
    /// The RPC endpoint is not a URL.
    #[error("invalid RPC URL {url}: {reason}")]
    RpcUrl {
        /// The URL given.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A JSON-RPC request failed (transport error, node down, bad response).
    #[error("RPC request failed while {action}: {reason}")]
    Rpc {
        /// What the client was doing.
        action: String,
        /// The transport's error.
        reason: String,
    },
    /// A contract call or transaction reverted.
    #[error("{action} reverted: {reason}")]
    Reverted {
        /// What the client was doing.
        action: String,
        /// The decoded custom error, or the raw revert data.
        reason: String,
    },
    /// A transaction was mined but failed.
    #[error("{action}: transaction {tx} was mined but reverted")]
    TransactionFailed {
        /// What the client was doing.
        action: String,
        /// The transaction hash.
        tx: B256,
    },
    /// The deployment file is missing, malformed or for another chain; or a receipt could not be built.
    #[error(transparent)]
    Bindings(#[from] soil_bindings::BindingsError),
    /// A release does not exist on chain.
    #[error("release {0} does not exist")]
    UnknownRelease(u64),
    /// A model does not exist on chain.
    #[error("model {0} does not exist")]
    UnknownModel(u64),
    /// An adapter to serve was registered on another base than the model loaded (or is a whole model).
    #[error(
        "model {adapter} is not an adapter on model {base} (its base is {actual}; 0 means a whole model)"
    )]
    AdapterOnOtherBase {
        /// The adapter's model id.
        adapter: u64,
        /// The base being served.
        base: u64,
        /// The adapter's registered base (0: none).
        actual: u64,
    },
    /// An adapter's registration events were not found.
    #[error(
        "model {0} has no ModelRegistered and AdapterRegistered events: it is not a registered adapter"
    )]
    MissingAdapterEvent(u64),
    /// An adapter was asked for without its file.
    #[error(
        "model {0} is an adapter: give its file with --adapter {0}=<adapter.gguf> (and its base's GGUF as --model)"
    )]
    MissingAdapterFile(u64),
    /// The metrics recorder could not be installed.
    #[error("cannot install the metrics recorder: {0}")]
    Metrics(String),
    /// A datanet does not exist on chain.
    #[error("datanet {0} does not exist")]
    UnknownDatanet(u64),
    /// A contribution's `ContributionSubmitted` event (which carries its URI) was not found.
    #[error(
        "no ContributionSubmitted event for contribution {0} since the deployment's start block"
    )]
    MissingContributionEvent(u64),
    /// An audit was asked for something that is neither a settled receipt's digest nor a transaction.
    #[error(
        "{0} is neither the digest of a settled receipt or channel voucher nor the hash of a transaction on this chain"
    )]
    NotSettled(B256),
    /// An audit was given a transaction that settled no receipt and no voucher.
    #[error(
        "transaction {0} settled no receipt and no voucher (it has no ReceiptSettled log of the escrow and no VoucherSettled log of the channels)"
    )]
    NoReceiptsSettled(B256),
    /// The release's recomputed Merkle root differs from the one published on chain.
    #[error(
        "release {release}: the fetched documents give root {computed}, but the chain says {published}"
    )]
    ReleaseRootMismatch {
        /// The release.
        release: u64,
        /// The root recomputed from the fetched documents.
        computed: B256,
        /// The root on chain.
        published: B256,
    },
    /// The payer cannot cover the next receipt: paid work is refused before it starts.
    #[error(
        "the deposit cannot pay for this request: it needs up to {} but only {} is available ({}); run `soil deposit`",
        .0.needed, .0.available(), .0
    )]
    InsufficientDeposit(Box<DepositShortfall>),
    /// No channel has this id on chain.
    #[error("channel {0} does not exist")]
    UnknownChannel(u64),
    /// A channel cannot carry this wallet's payments for what is served (another payer, signer, node or
    /// model, or it is closed or closing).
    #[error("channel {channel_id} cannot be used here: {reason}")]
    UnusableChannel {
        /// The channel.
        channel_id: u64,
        /// Why.
        reason: String,
    },
    /// The outbox's vouchers of a channel disagree with what the channel settled on chain: the outbox is
    /// stale (restored from a backup) or another process signs for the channel. Nothing more is signed.
    #[error("channel {channel_id}: the outbox's vouchers disagree with the chain: {reason}")]
    StaleChannel {
        /// The channel.
        channel_id: u64,
        /// What disagrees.
        reason: String,
    },
    /// Asking a payer's server for a channel's cut periods failed, or its answer is not a hand-over.
    #[error("asking {url} for the channel's periods failed: {reason}")]
    Handover {
        /// The URL asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The channel's deposit cannot cover the next inference's largest fee on top of what its vouchers
    /// already promise and what the requests under way hold.
    #[error(
        "channel {}'s deposit cannot pay for this request: it needs up to {} but only {} is left \
         (deposit {}, vouchers signed for {}, {} held for requests under way); short by {}; \
         run `soil channel fund` or open another",
        .0.channel_id, .0.needed, .0.available(), .0.deposit, .0.promised, .0.held, .0.missing()
    )]
    ChannelDepositShort(Box<ChannelShortfall>),
    /// A value does not fit the on-chain field it goes into.
    #[error("{what} is out of range: {value}")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// The local outbox database failed.
    #[error("receipt outbox {path}: {source}")]
    Outbox {
        /// The database file.
        path: PathBuf,
        /// The database error.
        source: sqlx::Error,
    },
    /// The outbox schema could not be migrated.
    #[error("receipt outbox {path}: migration failed: {source}")]
    OutboxMigration {
        /// The database file.
        path: PathBuf,
        /// The migration error.
        source: sqlx::migrate::MigrateError,
    },
    /// A row of the outbox cannot be decoded (the file was edited or corrupted).
    #[error("receipt outbox row {id} is corrupt: {reason}")]
    CorruptOutboxRow {
        /// The row id.
        id: i64,
        /// What is wrong.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The model failed to load, tokenize or generate (or its file does not match the registered hash).
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// Fetching, verifying or indexing a release's documents failed.
    #[error(transparent)]
    Attribution(#[from] crate::attribution::AttributionError),
    /// Publishing an output (or reading a published one) failed.
    #[error(transparent)]
    Publish(#[from] crate::outputs::PublishError),
    /// The OpenAI-compatible server could not start.
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The listen address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The client library's result type.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// What a channel's deposit must cover and what it has: the deposit, less what its vouchers promise and
/// what the requests under way hold, against what the next request `needed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelShortfall {
    /// The channel.
    pub channel_id: u64,
    /// The request's largest fee.
    pub needed: U256,
    /// The channel's deposit.
    pub deposit: U256,
    /// The cumulative fee its latest voucher promises.
    pub promised: U256,
    /// The largest fees of the requests admitted and not yet recorded.
    pub held: U256,
}

impl ChannelShortfall {
    /// What the channel can still pay: deposit − promised − held.
    pub fn available(&self) -> U256 {
        self.deposit
            .saturating_sub(self.promised)
            .saturating_sub(self.held)
    }

    /// How much is missing to cover `needed` (0 when covered).
    pub fn missing(&self) -> U256 {
        self.needed.saturating_sub(self.available())
    }
}

/// What a payer's deposit must cover and what it has: the deposit, less its pending withdrawal, less the
/// fees of receipts signed and not yet settled, against what is `needed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepositShortfall {
    /// What must be covered: the next receipt's largest fee, or the receipts waiting to settle.
    pub needed: U256,
    /// The payer's deposit in the escrow.
    pub deposit: U256,
    /// The payer's pending withdrawal.
    pub withdrawing: U256,
    /// The fees of receipts signed and not yet settled (beyond `needed`).
    pub committed: U256,
}

impl DepositShortfall {
    /// What the payer can still pay: deposit − withdrawing − committed.
    pub fn available(&self) -> U256 {
        self.deposit
            .saturating_sub(self.withdrawing)
            .saturating_sub(self.committed)
    }

    /// How much is missing to cover `needed` (0 when covered).
    pub fn missing(&self) -> U256 {
        self.needed.saturating_sub(self.available())
    }
}

impl std::fmt::Display for DepositShortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deposit {}, pending withdrawal {}, receipts waiting to settle {}",
            self.deposit, self.withdrawing, self.committed
        )
    }
}
