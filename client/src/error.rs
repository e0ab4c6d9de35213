//! Errors of the client library (being written).
