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
//! The tree is persistent: nodes are shared (`Arc`) and never change, so a
//! [`Tree`] is cheap to clone and doubles as the repository's key → record
//! map. [`Tree::build`] makes a tree from scratch; [`Tree::edit`] (in
//! `edit`) makes the tree of a changed key set from an existing one, and
//! encodes only the nodes whose key range holds a change or whose range
//! moved (the split and merge paths around inserted and deleted keys): every
//! other subtree is the same function of the same keys, so it is reused with
//! its CID and block. A key's height is hashed once, when it is inserted;
//! afterwards it is the layer of the node holding the key.
//!
//! [`Tree::proof`] (in `proof`) is the set of nodes a relay needs to invert a
//! commit's operations starting from the new tree: the path to each changed
//! key, the edges of the subtrees on both sides of a removed key down to the
//! bottom (where they merge, or where the top is trimmed), and the spines a
//! re-inserted key would split. The commit-proof interop vectors pin it down.

mod edit;
mod proof;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wire::cbor::{Value, encode};
use wire::cid::Cid;

pub use edit::Edited;

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

/// A subtree, or `None` where a range holds no keys.
type Link = Option<Arc<Node>>;

/// One node: its keys (all of height `layer`), the subtrees around them, and its block.
#[derive(Debug)]
struct Node {
    layer: u32,
    /// The subtree of the keys before the first entry.
    left: Link,
    entries: Vec<Entry>,
    cid: Cid,
    block: Vec<u8>,
}

/// A key, its record, and the subtree of the keys up to the next entry.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: Cid,
    right: Link,
}

impl Node {
    /// Encodes the node `{e, l}` for `entries` at `layer`.
    fn new(layer: u32, left: Link, entries: Vec<Entry>) -> Arc<Node> {
        let link = |l: &Link| l.as_ref().map_or(Value::Null, |n| Value::Link(n.cid));
        let mut previous: &[u8] = &[];
        let mut encoded = Vec::with_capacity(entries.len());
        for entry in &entries {
            let key = entry.key.as_bytes();
            let prefix = common_prefix(previous, key);
            encoded.push(Value::map([
                ("k", Value::Bytes(key[prefix..].to_vec())),
                (
                    "p",
                    Value::Integer(i64::try_from(prefix).unwrap_or(i64::MAX)),
                ),
                ("t", link(&entry.right)),
                ("v", Value::Link(entry.value)),
            ]));
            previous = key;
        }
        let block = encode(&Value::map([
            ("e", Value::Array(encoded)),
            ("l", link(&left)),
        ]));
        Arc::new(Node {
            layer,
            left,
            entries,
            cid: Cid::for_dag_cbor(&block),
            block,
        })
    }

    /// The subtree before entry `i`: `l` for the first, the last subtree for `entries.len()`.
    fn child_before(&self, i: usize) -> &Link {
        if i == 0 {
            &self.left
        } else {
            &self.entries[i - 1].right
        }
    }

    /// Where `key` is: `Ok(i)` for entry `i`, `Err(i)` for the subtree before entry `i`
    /// (the last subtree for `i == entries.len()`).
    fn search(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.key.as_str().cmp(key))
    }
}

/// A repository's tree. Clones share every node.
#[derive(Debug, Clone)]
pub struct Tree {
    root: Arc<Node>,
    /// How many keys there are of each height (no zero counts): the greatest
    /// height is the root's layer, without looking at every key.
    heights: BTreeMap<u32, usize>,
}

impl Tree {
    /// The canonical tree of `entries` (key → record CID), built from scratch.
    pub fn build(entries: &BTreeMap<String, Cid>) -> Tree {
        let keyed: Vec<(&str, Cid, u32)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), *v, height(k)))
            .collect();
        let mut heights = BTreeMap::new();
        for (_, _, h) in &keyed {
            *heights.entry(*h).or_insert(0) += 1;
        }
        let top = heights.keys().next_back().copied().unwrap_or(0);
        let root = build(&keyed, top).unwrap_or_else(empty);
        Tree { root, heights }
    }

    pub fn root(&self) -> Cid {
        self.root.cid
    }

    /// How many keys the tree holds.
    pub fn len(&self) -> usize {
        self.heights.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.heights.is_empty()
    }

    /// The record CID of `key`.
    pub fn get(&self, key: &str) -> Option<Cid> {
        self.find(key).map(|(value, _)| value)
    }

    /// The record CID of `key` and its height (the layer of its node).
    fn find(&self, key: &str) -> Option<(Cid, u32)> {
        let mut at = Some(&self.root);
        while let Some(node) = at {
            match node.search(key) {
                Ok(i) => return Some((node.entries[i].value, node.layer)),
                Err(i) => at = node.child_before(i).as_ref(),
            }
        }
        None
    }

    /// Every key and its record CID, in key order.
    pub fn entries(&self) -> Vec<(&str, Cid)> {
        fn walk<'a>(node: &'a Node, out: &mut Vec<(&'a str, Cid)>) {
            if let Some(left) = &node.left {
                walk(left, out);
            }
            for entry in &node.entries {
                out.push((entry.key.as_str(), entry.value));
                if let Some(right) = &entry.right {
                    walk(right, out);
                }
            }
        }
        let mut out = Vec::with_capacity(self.len());
        walk(&self.root, &mut out);
        out
    }

    /// Every node block, by CID.
    pub fn blocks(&self) -> BTreeMap<Cid, Vec<u8>> {
        fn walk(node: &Node, out: &mut BTreeMap<Cid, Vec<u8>>) {
            out.insert(node.cid, node.block.clone());
            let children = std::iter::once(&node.left).chain(node.entries.iter().map(|e| &e.right));
            for child in children.flatten() {
                walk(child, out);
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root, &mut out);
        out
    }
}

/// The root of the empty tree: `{e: [], l: null}`.
fn empty() -> Arc<Node> {
    Node::new(0, None, Vec::new())
}

/// Builds the node for `entries` (all of height <= `layer`) at `layer`; `None` when empty.
fn build(entries: &[(&str, Cid, u32)], layer: u32) -> Link {
    if entries.is_empty() {
        return None;
    }
    let mut left = None;
    let mut row: Vec<Entry> = Vec::new();
    let mut start = 0;
    // The keys below this layer between two of its keys form one subtree.
    let mut flush = |below: &[(&str, Cid, u32)], row: &mut Vec<Entry>| {
        if below.is_empty() {
            return;
        }
        let sub = build(below, layer - 1);
        match row.last_mut() {
            Some(last) => last.right = sub,
            None => left = sub,
        }
    };
    for (i, &(key, value, h)) in entries.iter().enumerate() {
        if h == layer {
            flush(&entries[start..i], &mut row);
            row.push(Entry {
                key: key.to_owned(),
                value,
                right: None,
            });
            start = i + 1;
        }
    }
    flush(&entries[start..], &mut row);
    Some(Node::new(layer, left, row))
}
