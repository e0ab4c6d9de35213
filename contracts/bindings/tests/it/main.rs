//! Integration tests of the bindings against a real anvil with the contracts deployed.

mod digest;
