//! attribution (being written).
