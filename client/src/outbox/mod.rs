//! outbox (being written).
