//! The Merkle Search Tree of an atproto repository: key heights, the canonical tree, node blocks, and the proof a commit must carry.
//!
//! A key's height is the number of leading zero bits of its SHA-256, in
//! 2-bit steps. The tree is a function of its key set: the root sits at the
//! greatest height, each node holds the keys of its height in order, and the
//! keys between two of them (or before the first: `l`) live in a subtree one
//! layer down, which may hold no keys of its own and only point further down.
//! Only the top is trimmed: an empty tree is one node with no entries.
//! Node blocks are DAG-CBOR `{e: [{k, p, t, v}], l}` with each key written
//! as the bytes it does not share with the previous key of the node.
//!
//! [`Tree::proof`] is the set of nodes a relay needs to invert a commit's
//! operations starting from the new tree: the path to each changed key, the
//! edges of the subtrees on both sides of a removed key down to the bottom
//! (where they merge, or where the top is trimmed), and the spines a
//! re-inserted key would split. The commit-proof interop vectors pin it down.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use wire::cbor::{Value, encode};
use wire::cid::Cid;

/// The height of `key`: leading zero bits of its SHA-256, halved.
pub fn height(key: &str) -> u32 {
    let digest = Sha256::digest(key.as_bytes());
    let mut zeros = 0;
    for byte in digest {
        if byte == 0 {
            zeros += 8;
        } else {
            zeros += byte.leading_zeros();
            break;
        }
    }
    zeros / 2
}

/// The length of the common prefix of two keys, in bytes.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// One node of a built tree.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    layer: u32,
    left: Option<usize>,
    /// (key, value, right subtree).
    entries: Vec<(String, Cid, Option<usize>)>,
    cid: Cid,
    block: Vec<u8>,
}

/// A tree built from a key set; nodes are held in an arena, the root last.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    root: usize,
}

impl Tree {
    /// The canonical tree of `entries` (key → record CID).
    pub fn build(entries: &BTreeMap<String, Cid>) -> Tree {
        let keyed: Vec<(&str, &Cid, u32)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v, height(k)))
            .collect();
        let top = keyed.iter().map(|(_, _, h)| *h).max().unwrap_or(0);
        let mut nodes = Vec::new();
        let root = build(&keyed, top, &mut nodes).unwrap_or_else(|| {
            nodes.push(node(0, None, Vec::new(), &[]));
            nodes.len() - 1
        });
        Tree { nodes, root }
    }

    pub fn root(&self) -> Cid {
        self.nodes[self.root].cid
    }

    /// Every node block, by CID.
    pub fn blocks(&self) -> BTreeMap<Cid, Vec<u8>> {
        self.nodes
            .iter()
            .map(|n| (n.cid, n.block.clone()))
            .collect()
    }

    /// The nodes needed to invert, from this tree, the given changes:
    /// `present` keys are in this tree (their inverse removes them),
    /// `absent` keys are not (their inverse puts them back).
    pub fn proof(&self, present: &[&str], absent: &[&str]) -> BTreeSet<Cid> {
        let mut touched = BTreeSet::new();
        for key in present {
            self.invert_add(key, &mut touched);
        }
        for key in absent {
            self.invert_delete(key, &mut touched);
        }
        touched.into_iter().map(|i| self.nodes[i].cid).collect()
    }

    /// Which child of `node` holds keys around `key`, and whether `key` is an entry there.
    fn locate(&self, node: usize, key: &str) -> (Option<usize>, Option<usize>) {
        let n = &self.nodes[node];
        let mut child = n.left;
        for (i, (k, _, right)) in n.entries.iter().enumerate() {
            match key.cmp(k.as_str()) {
                std::cmp::Ordering::Equal => return (None, Some(i)),
                std::cmp::Ordering::Less => return (child, None),
                std::cmp::Ordering::Greater => child = *right,
            }
        }
        (child, None)
    }

    /// Removing `key`: the path to it, then the spines its neighbours merge along.
    fn invert_add(&self, key: &str, touched: &mut BTreeSet<usize>) {
        let mut at = Some(self.root);
        while let Some(node) = at {
            touched.insert(node);
            match self.locate(node, key) {
                (_, Some(i)) => {
                    let n = &self.nodes[node];
                    let before = if i == 0 { n.left } else { n.entries[i - 1].2 };
                    let after = n.entries[i].2;
                    self.merge_spines(before, after, touched);
                    return;
                }
                (child, None) => at = child,
            }
        }
    }

    /// The spines a removed key's neighbours meet along: the right edge of
    /// the subtree before it and the left edge of the subtree after it, to
    /// the bottom (a relay reads them to merge, or to learn a side is alone).
    fn merge_spines(
        &self,
        before: Option<usize>,
        after: Option<usize>,
        touched: &mut BTreeSet<usize>,
    ) {
        let mut a = before;
        while let Some(x) = a {
            touched.insert(x);
            a = self.nodes[x]
                .entries
                .last()
                .map_or(self.nodes[x].left, |e| e.2);
        }
        let mut b = after;
        while let Some(y) = b {
            touched.insert(y);
            b = self.nodes[y].left;
        }
    }

    /// Putting `key` back: the path down to its layer, then the subtree it splits.
    fn invert_delete(&self, key: &str, touched: &mut BTreeSet<usize>) {
        let layer = height(key);
        let mut at = Some(self.root);
        if self.nodes[self.root].layer < layer {
            // The key goes above the root: the whole tree splits around it.
            self.split(at, key, touched);
            return;
        }
        while let Some(node) = at {
            touched.insert(node);
            let (child, _) = self.locate(node, key);
            if self.nodes[node].layer == layer {
                self.split(child, key, touched);
                return;
            }
            at = child;
        }
    }

    fn split(&self, mut at: Option<usize>, key: &str, touched: &mut BTreeSet<usize>) {
        while let Some(node) = at {
            touched.insert(node);
            at = self.locate(node, key).0;
        }
    }
}

/// Builds the node for `entries` (all of height <= `layer`) at `layer`; `None` when empty.
fn build(entries: &[(&str, &Cid, u32)], layer: u32, nodes: &mut Vec<Node>) -> Option<usize> {
    if entries.is_empty() {
        return None;
    }
    let mut left = None;
    let mut row: Vec<(String, Cid, Option<usize>)> = Vec::new();
    let mut below: Vec<(&str, &Cid, u32)> = Vec::new();
    let flush = |below: &mut Vec<(&str, &Cid, u32)>,
                 row: &mut Vec<(String, Cid, Option<usize>)>,
                 left: &mut Option<usize>,
                 nodes: &mut Vec<Node>| {
        if below.is_empty() {
            return;
        }
        let sub = build(below, layer - 1, nodes);
        below.clear();
        match row.last_mut() {
            Some(last) => last.2 = sub,
            None => *left = sub,
        }
    };
    for entry in entries {
        if entry.2 == layer {
            flush(&mut below, &mut row, &mut left, nodes);
            row.push((entry.0.to_owned(), *entry.1, None));
        } else {
            below.push(*entry);
        }
    }
    flush(&mut below, &mut row, &mut left, nodes);
    let built = node(layer, left, row, nodes);
    nodes.push(built);
    Some(nodes.len() - 1)
}

fn node(
    layer: u32,
    left: Option<usize>,
    entries: Vec<(String, Cid, Option<usize>)>,
    nodes: &[Node],
) -> Node {
    let link = |i: Option<usize>| i.map_or(Value::Null, |i| Value::Link(nodes[i].cid));
    let mut previous: &[u8] = &[];
    let mut encoded = Vec::with_capacity(entries.len());
    for (key, value, right) in &entries {
        let prefix = common_prefix(previous, key.as_bytes());
        encoded.push(Value::map([
            ("k", Value::Bytes(key.as_bytes()[prefix..].to_vec())),
            (
                "p",
                Value::Integer(i64::try_from(prefix).unwrap_or(i64::MAX)),
            ),
            ("t", link(*right)),
            ("v", Value::Link(*value)),
        ]));
        previous = key.as_bytes();
    }
    let block = encode(&Value::map([
        ("e", Value::Array(encoded)),
        ("l", link(left)),
    ]));
    Node {
        layer,
        left,
        entries,
        cid: Cid::for_dag_cbor(&block),
        block,
    }
}
