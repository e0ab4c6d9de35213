//! serve (being written).
