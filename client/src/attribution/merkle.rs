//! The release Merkle root, computed exactly as the contracts check it.
//!
//! * leaf = `keccak256(abi.encode(uint64 contributionId, bytes32 contentHash))` (each word padded to 32
//!   bytes, so 64 bytes hashed);
//! * leaves in the release's order (the datanet's `acceptedSeq` order);
//! * the tree of `soil_bindings::merkle` (commutative pairs, an odd last node carried up, a single leaf
//!   its own root). An empty release gets the zero root, which the registry refuses.

use alloy::{
    primitives::{B256, keccak256},
    sol_types::SolValue,
};
pub use soil_bindings::merkle::hash_pair;

/// The leaf of one contribution: `keccak256(abi.encode(contributionId, contentHash))`.
pub fn leaf(contribution_id: u64, content_hash: B256) -> B256 {
    keccak256((contribution_id, content_hash).abi_encode())
}

/// The Merkle root over `(contributionId, contentHash)` leaves in release order; zero when empty.
pub fn release_root(leaves: &[(u64, B256)]) -> B256 {
    soil_bindings::merkle::root(leaves.iter().map(|&(id, hash)| leaf(id, hash)).collect())
}

#[cfg(test)]
mod tests {
    use alloy::primitives::b256;

    use super::*;

    fn hash(byte: u8) -> B256 {
        B256::repeat_byte(byte)
    }

    #[test]
    fn leaf_is_keccak_of_two_abi_words() {
        let mut encoded = [0u8; 64];
        encoded[24..32].copy_from_slice(&7u64.to_be_bytes());
        encoded[32..].copy_from_slice(hash(0xab).as_slice());
        assert_eq!(leaf(7, hash(0xab)), keccak256(encoded));
        // Pinned value: keccak256(abi.encode(uint64(1), bytes32(0x11..11))) as `cast keccak` gives it.
        assert_eq!(
            leaf(1, hash(0x11)),
            b256!("0x8a1a59a536742613f251075415cb3bcfd95758a71bd84e57840cbf9f016f9cf9")
        );
    }

    #[test]
    fn single_leaf_is_the_root_and_empty_has_none() {
        assert_eq!(release_root(&[(3, hash(1))]), leaf(3, hash(1)));
        assert_eq!(release_root(&[]), B256::ZERO);
        // Pinned with `cast keccak`: sorted-pair hash of the leaves of (1, 0x11..11) and (2, 0x22..22).
        assert_eq!(
            release_root(&[(1, hash(0x11)), (2, hash(0x22))]),
            b256!("0x80bc63e39b720c1b104dee85500a5d59ad632212717fa5e82864d22f53b41fa1")
        );
    }

    #[test]
    fn pairs_are_sorted_and_odd_node_carried_up() {
        let leaves = [(1, hash(1)), (2, hash(2)), (3, hash(3))];
        let [a, b, c] = leaves.map(|(id, h)| leaf(id, h));
        assert_eq!(hash_pair(a, b), hash_pair(b, a));
        assert_eq!(release_root(&leaves), hash_pair(hash_pair(a, b), c));
        let four = [(1, hash(1)), (2, hash(2)), (3, hash(3)), (4, hash(4))];
        let d = leaf(4, hash(4));
        assert_eq!(
            release_root(&four),
            hash_pair(hash_pair(a, b), hash_pair(c, d))
        );
        // Order matters: the root commits to the release order (beyond swapping the two sides of a pair).
        assert_ne!(
            release_root(&[(3, hash(3)), (1, hash(1)), (2, hash(2))]),
            release_root(&leaves)
        );
    }
}
