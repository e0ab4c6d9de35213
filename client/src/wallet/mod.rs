//! wallet (being written).
