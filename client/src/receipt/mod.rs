//! receipt (being written).
