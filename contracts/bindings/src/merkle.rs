//! The Merkle tree of release roots and receipts-log roots, as OpenZeppelin's `MerkleProof` verifies it.
//!
//! * inner node = the commutative hash `keccak256(min(a, b) ‖ max(a, b))`;
//! * levels are built left to right in pairs; an odd last node is carried up unchanged;
//! * a single leaf is its own root; no leaves give the zero root.

use alloy::primitives::{B256, keccak256};

/// OpenZeppelin's commutative pair hash: the smaller word first.
pub fn hash_pair(a: B256, b: B256) -> B256 {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(low.as_slice());
    bytes[32..].copy_from_slice(high.as_slice());
    keccak256(bytes)
}

/// The root over `leaves` in order; zero when there are none.
pub fn root(leaves: Vec<B256>) -> B256 {
    let mut level = leaves;
    while level.len() > 1 {
        level = next_level(&level);
    }
    level.pop().unwrap_or(B256::ZERO)
}

/// The siblings from leaf `index` up to the root (none at a level where the node is carried up); `None`
/// when `index` is out of range.
pub fn proof(leaves: Vec<B256>, mut index: usize) -> Option<Vec<B256>> {
    if index >= leaves.len() {
        return None;
    }
    let mut level = leaves;
    let mut siblings = Vec::new();
    while level.len() > 1 {
        if let Some(&sibling) = level.get(index ^ 1) {
            siblings.push(sibling);
        }
        level = next_level(&level);
        index /= 2;
    }
    Some(siblings)
}

/// Whether `proof` leads from `leaf` to `root`.
pub fn verify(root: B256, leaf: B256, proof: &[B256]) -> bool {
    proof
        .iter()
        .fold(leaf, |node, &sibling| hash_pair(node, sibling))
        == root
}

fn next_level(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [a, b] => hash_pair(*a, *b),
            [odd] => *odd,
            _ => unreachable!("chunks(2) yields one or two nodes"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u8) -> Vec<B256> {
        (0..n).map(|i| keccak256([i])).collect()
    }

    #[test]
    fn every_leaf_proves_into_its_root_and_no_other() {
        for n in 1..=9u8 {
            let all = leaves(n);
            let r = root(all.clone());
            for (i, &leaf) in all.iter().enumerate() {
                let p = proof(all.clone(), i).unwrap();
                assert!(verify(r, leaf, &p), "n={n} i={i}");
                assert!(!verify(r, keccak256([0xff]), &p), "n={n} i={i}");
            }
            assert_eq!(proof(all, usize::from(n)), None);
        }
    }

    #[test]
    fn three_leaves_carry_the_odd_one_up() {
        let l = leaves(3);
        assert_eq!(root(l.clone()), hash_pair(hash_pair(l[0], l[1]), l[2]));
        assert_eq!(root(vec![l[0]]), l[0]);
        assert_eq!(root(Vec::new()), B256::ZERO);
    }
}
