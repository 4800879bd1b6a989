//! How many nodes Redis's radix tree (`rax.c`) has for a stream's node keys
//! (XINFO STREAM's `radix-tree-nodes`), computed from the sorted keys
//! instead of keeping a radix tree: Ferrite's nodes are in a `BTreeMap`.
//!
//! For keys of equal length, none a prefix of another, `raxInsert` and
//! `raxRemove` keep the compressed trie canonical: a run of single-child
//! bytes is one compressed node, each branching point one node with a
//! child per byte, each key ends in an empty leaf node. A child of a
//! branching node whose run is longer than its first byte takes a node for
//! that byte's edge and one for the rest (the compressed node), which the
//! count below follows.

/// The node count of a rax holding `keys` (sorted, distinct, equal length).
pub(super) fn node_count(keys: &[[u8; 16]]) -> u64 {
    if keys.is_empty() {
        return 1; // the empty root
    }
    subtree(keys, 0)
}

/// Nodes from the one a pointer reaches with `depth` bytes consumed.
fn subtree(keys: &[[u8; 16]], depth: usize) -> u64 {
    let len = keys[0].len();
    if depth == len {
        return 1; // the leaf
    }
    if let [_] = keys {
        return 2; // one node for the rest of the key, and the leaf
    }
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    let common = (depth..len).take_while(|&i| first[i] == last[i]).count();
    if common > 0 {
        // A compressed node of the common bytes, then the branching node.
        1 + branch(keys, depth + common)
    } else {
        branch(keys, depth)
    }
}

/// A branching node at `depth` and the subtrees of its children.
fn branch(keys: &[[u8; 16]], depth: usize) -> u64 {
    let mut count = 1;
    let mut rest = keys;
    while let Some(first) = rest.first() {
        let same = rest.iter().take_while(|k| k[depth] == first[depth]).count();
        count += subtree(&rest[..same], depth + 1);
        rest = &rest[same..];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte_at: &[(usize, u8)]) -> [u8; 16] {
        let mut k = [0u8; 16];
        for &(i, b) in byte_at {
            k[i] = b;
        }
        k
    }

    #[test]
    fn counts_as_rax_insert_does() {
        assert_eq!(node_count(&[]), 1);
        assert_eq!(node_count(&[key(&[])]), 2);
        // Split in the middle: trimmed prefix, split node, both postfixes, both leaves.
        assert_eq!(node_count(&[key(&[]), key(&[(7, 1)])]), 6);
        // Split at the last byte: no postfix nodes.
        assert_eq!(node_count(&[key(&[]), key(&[(15, 1)])]), 4);
        // Split at the first byte: no trimmed node.
        assert_eq!(node_count(&[key(&[]), key(&[(0, 1)])]), 5);
    }
}
