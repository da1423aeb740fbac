//! The relay's half of the atproto inductive firehose: undo a `#commit`'s ops on the partial Merkle Search Tree its CAR slice holds, giving the root to compare with `prevData`.
//!
//! A node is DAG-CBOR `{e: [{k, p, t, v}], l}`: `l` links the subtree left of
//! every entry, each entry's `t` the subtree right of it, and each key is
//! written as the `p` bytes it shares with the previous key of the node plus
//! the suffix `k`. A key's height is the number of leading zero bits of its
//! SHA-256, halved; a node holds keys of one height (its layer) and its
//! subtrees sit exactly one layer down, so a node may have no entries and only
//! `l` when keys skip a layer. Empty subtrees are pruned, the root is the
//! highest non-empty layer, and an empty tree is the node `{e: [], l: null}`.
//!
//! [`invert`] edits the tree node by node, loading a node only when an edit
//! reaches it, so unchanged subtrees keep their CIDs unread. A node it needs
//! and the slice lacks is [`MstError::MissingBlock`]: the proof is incomplete.
//! Each block is checked against its CID and decoded strictly, and each node
//! against its place in the tree (layer, key range), so a malformed or
//! misplaced node is [`MstError::BadBlock`], never a panic. Work is bounded by
//! the input: heights are at most 128, so no path is longer than 129 nodes,
//! and a block is decoded at most once (a node met twice is malformed, since
//! subtrees of a valid tree hold disjoint, non-empty key ranges).

mod node;

use std::collections::BTreeMap;

use thiserror::Error;

use crate::cid::Cid;
use node::{Entry, Gap, Link, Loader, Node, Root, seal_root};
pub use node::{MAX_KEY_LEN, height};

/// One op of a commit, to be undone. Ops touch distinct keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo<'a> {
    /// The commit created `key` with `cid`: it must be present with `cid`, and is removed.
    Create { key: &'a str, cid: Cid },
    /// The commit changed `key` from `prev` to `cid`: it must hold `cid`, and gets `prev` back.
    Update { key: &'a str, cid: Cid, prev: Cid },
    /// The commit deleted `key`, which held `prev`: it must be absent, and is put back.
    Delete { key: &'a str, prev: Cid },
}

/// Why a commit could not be undone on the tree its blocks hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MstError {
    /// A node the undo has to read is not among the blocks: the proof is incomplete.
    #[error("MST node {0} is not among the blocks")]
    MissingBlock(Cid),
    /// A node block is not a well-formed node, or not one that belongs where it is linked.
    #[error("MST node {cid} is malformed: {reason}")]
    BadBlock { cid: Cid, reason: String },
    /// An op does not fit the tree: a created or updated key is absent or holds another
    /// value, or a deleted key is present.
    #[error("op on key {key:?} does not fit the tree: {reason}")]
    OpMismatch { key: String, reason: String },
}

impl MstError {
    /// A stable kebab-case name for the problem, for findings.
    pub fn kind(&self) -> &'static str {
        match self {
            MstError::MissingBlock(_) => "missing-block",
            MstError::BadBlock { .. } => "bad-block",
            MstError::OpMismatch { .. } => "op-mismatch",
        }
    }
}

/// Undoes `ops`, in order, on the tree whose root is `root` and returns the root of the
/// canonical tree that results (the commit's `prevData` if the commit is honest).
///
/// `blocks` looks a node up by CID, as [`crate::car::Car::get`] does; only nodes an edit
/// reaches are read. With no ops, `root` comes back unread.
pub fn invert<'b>(
    root: Cid,
    blocks: &dyn Fn(&Cid) -> Option<&'b [u8]>,
    ops: &[Undo<'_>],
) -> Result<Cid, MstError> {
    if ops.is_empty() {
        return Ok(root);
    }
    let mut ld = Loader::new(blocks);
    let mut tree = ld.root(root)?;
    for op in ops {
        tree = undo(&mut ld, tree, op)?;
    }
    Ok(seal_root(tree, &mut BTreeMap::new()))
}

/// The root of the tree holding `entries` (a repeated key keeps its last value), built by
/// inserting them one by one into the empty tree, and every node block of it by CID.
pub fn build_root<'k>(
    entries: impl IntoIterator<Item = (&'k str, Cid)>,
) -> (Cid, BTreeMap<Cid, Vec<u8>>) {
    let nothing = |_: &Cid| None::<&[u8]>;
    let mut ld = Loader::new(&nothing);
    let mut tree: Root = None;
    for (key, value) in entries {
        let key = Key::new(key.as_bytes());
        let replaced = match &mut tree {
            Some((node, layer)) if *layer >= key.layer => {
                update(&mut ld, node, *layer, Gap::ALL, key, None, value).is_ok()
            }
            _ => false,
        };
        if !replaced {
            tree = insert_root(&mut ld, tree, key, value)
                .expect("a tree held wholly in memory reads no block, and the key is absent");
        }
    }
    let mut blocks = BTreeMap::new();
    let root = seal_root(tree, &mut blocks);
    (root, blocks)
}

/// A key and its layer (its height), as the edits below pass it down.
#[derive(Debug, Clone, Copy)]
struct Key<'k> {
    bytes: &'k [u8],
    layer: u32,
}

impl<'k> Key<'k> {
    fn new(bytes: &'k [u8]) -> Self {
        Key {
            bytes,
            layer: height(bytes),
        }
    }
}

fn mismatch(key: Key<'_>, reason: impl Into<String>) -> MstError {
    MstError::OpMismatch {
        key: String::from_utf8_lossy(key.bytes).into_owned(),
        reason: reason.into(),
    }
}

fn undo(ld: &mut Loader<'_, '_>, tree: Root, op: &Undo<'_>) -> Result<Root, MstError> {
    let (Undo::Create { key, .. } | Undo::Update { key, .. } | Undo::Delete { key, .. }) = *op;
    let key = Key::new(key.as_bytes());
    if key.bytes.len() > MAX_KEY_LEN {
        return Err(mismatch(key, format!("longer than {MAX_KEY_LEN} bytes")));
    }
    match (*op, tree) {
        (Undo::Delete { prev, .. }, tree) => insert_root(ld, tree, key, prev),
        (Undo::Create { cid, .. }, Some((node, layer))) if layer >= key.layer => {
            match remove(ld, node, layer, Gap::ALL, key, cid)? {
                None => Ok(None),
                Some(node) => trim(ld, node, layer),
            }
        }
        (Undo::Update { cid, prev, .. }, Some((mut node, layer))) if layer >= key.layer => {
            update(ld, &mut node, layer, Gap::ALL, key, Some(cid), prev)?;
            Ok(Some((node, layer)))
        }
        // The key is higher than the root, or the tree is empty.
        _ => Err(mismatch(key, "absent")),
    }
}

/// Collapses a root with no entries into its only subtree, layer by layer.
fn trim(ld: &mut Loader<'_, '_>, mut node: Box<Node>, mut layer: u32) -> Result<Root, MstError> {
    while node.entries.is_empty() {
        let Some(link) = node.left.take() else {
            return Ok(None);
        };
        layer = layer.saturating_sub(1);
        node = ld.open(link, layer, Gap::ALL)?;
    }
    Ok(Some((node, layer)))
}

/// Sets `key` (at `key.layer`, in the subtree `node` at `layer`) to `value`, if it holds `expected`.
fn update(
    ld: &mut Loader<'_, '_>,
    node: &mut Node,
    layer: u32,
    gap: Gap<'_>,
    key: Key<'_>,
    expected: Option<Cid>,
    value: Cid,
) -> Result<(), MstError> {
    let j = match node.position(key.bytes) {
        Ok(i) => {
            let entry = &mut node.entries[i];
            return match expected {
                Some(cid) if cid != entry.value => {
                    Err(mismatch(key, format!("holds {}, not {cid}", entry.value)))
                }
                _ => {
                    entry.value = value;
                    Ok(())
                }
            };
        }
        Err(j) if layer > key.layer => j,
        Err(_) => return Err(mismatch(key, "absent")),
    };
    let link = node.slot(j).take().ok_or_else(|| mismatch(key, "absent"))?;
    let (child, result) = {
        let gap = node.gap(j, gap);
        let mut child = ld.open(link, layer - 1, gap)?;
        let result = update(ld, &mut child, layer - 1, gap, key, expected, value);
        (child, result)
    };
    // Put the child back even on a mismatch: build_root goes on with the same tree.
    *node.slot(j) = Some(Link::Loaded(child));
    result
}

/// Removes `key` holding `expected` from the subtree `node` at `layer`; `None` when nothing is left.
fn remove(
    ld: &mut Loader<'_, '_>,
    mut node: Box<Node>,
    layer: u32,
    gap: Gap<'_>,
    key: Key<'_>,
    expected: Cid,
) -> Result<Option<Box<Node>>, MstError> {
    match node.position(key.bytes) {
        Ok(i) => {
            let found = node.entries[i].value;
            if found != expected {
                return Err(mismatch(key, format!("holds {found}, not {expected}")));
            }
            let entry = node.entries.remove(i);
            // The subtrees on both sides of the key meet in slot `i`.
            let before = node.slot(i).take();
            let joined = {
                let span = node.gap(i, gap);
                let below = layer.saturating_sub(1);
                merge(ld, before, entry.right, below, span.lo, key.bytes, span.hi)?
            };
            *node.slot(i) = joined;
        }
        Err(j) if layer > key.layer => {
            let link = node.slot(j).take().ok_or_else(|| mismatch(key, "absent"))?;
            let kept = {
                let gap = node.gap(j, gap);
                let child = ld.open(link, layer - 1, gap)?;
                remove(ld, child, layer - 1, gap, key, expected)?
            };
            *node.slot(j) = kept.map(Link::Loaded);
        }
        Err(_) => return Err(mismatch(key, "absent")),
    }
    Ok(if node.is_empty() { None } else { Some(node) })
}

/// Joins two neighbouring subtrees at `layer`, `a` in (`lo`, `mid`) and `b` in (`mid`, `hi`).
fn merge(
    ld: &mut Loader<'_, '_>,
    a: Option<Link>,
    b: Option<Link>,
    layer: u32,
    lo: Option<&[u8]>,
    mid: &[u8],
    hi: Option<&[u8]>,
) -> Result<Option<Link>, MstError> {
    let (a, b) = match (a, b) {
        (None, b) => return Ok(b),
        (a, None) => return Ok(a),
        (Some(a), Some(b)) => (a, b),
    };
    let mut a = ld.open(a, layer, Gap { lo, hi: Some(mid) })?;
    let mut b = ld.open(b, layer, Gap { lo: Some(mid), hi })?;
    let last = a.entries.len();
    let (tail, head) = (a.slot(last).take(), b.left.take());
    let joined = {
        let lo = a.entries.last().map(|e| e.key.as_slice()).or(lo);
        let hi = b.entries.first().map(|e| e.key.as_slice()).or(hi);
        merge(ld, tail, head, layer.saturating_sub(1), lo, mid, hi)?
    };
    *a.slot(last) = joined;
    a.entries.append(&mut b.entries);
    Ok(Some(Link::Loaded(a)))
}

/// Splits the subtree `link` at `layer` around `key`, which it must not hold.
fn split(
    ld: &mut Loader<'_, '_>,
    link: Option<Link>,
    layer: u32,
    gap: Gap<'_>,
    key: Key<'_>,
) -> Result<(Option<Link>, Option<Link>), MstError> {
    let Some(link) = link else {
        return Ok((None, None));
    };
    let mut node = ld.open(link, layer, gap)?;
    let j = node
        .position(key.bytes)
        .err()
        .ok_or_else(|| mismatch(key, "present"))?;
    let child = node.slot(j).take();
    let (a, b) = split(ld, child, layer.saturating_sub(1), node.gap(j, gap), key)?;
    let right = Box::new(Node {
        left: b,
        entries: node.entries.split_off(j),
    });
    *node.slot(j) = a;
    let keep = |n: Box<Node>| (!n.is_empty()).then_some(Link::Loaded(n));
    Ok((keep(node), keep(right)))
}

/// Puts `key` with `value` into the tree, growing it upwards if the key is higher than the root.
fn insert_root(
    ld: &mut Loader<'_, '_>,
    tree: Root,
    key: Key<'_>,
    value: Cid,
) -> Result<Root, MstError> {
    let h = key.layer;
    let (root, layer) = match tree {
        Some((node, layer)) if layer < h => {
            let (a, b) = split(ld, Some(Link::Loaded(node)), layer, Gap::ALL, key)?;
            // Each side needs a node with no entries on every layer between.
            let lift = |mut link: Link| {
                for _ in layer + 1..h {
                    link = Link::Loaded(Box::new(Node {
                        left: Some(link),
                        entries: Vec::new(),
                    }));
                }
                link
            };
            let entry = Entry {
                key: key.bytes.to_vec(),
                value,
                right: b.map(lift),
            };
            let root = Node {
                left: a.map(lift),
                entries: vec![entry],
            };
            return Ok(Some((Box::new(root), h)));
        }
        Some((node, layer)) => (Some(Link::Loaded(node)), layer),
        None => (None, h),
    };
    Ok(Some((
        insert(ld, root, layer, Gap::ALL, key, value)?,
        layer,
    )))
}

/// Puts `key` (at `key.layer`) into the subtree `link` at `layer`, creating nodes down to its layer.
fn insert(
    ld: &mut Loader<'_, '_>,
    link: Option<Link>,
    layer: u32,
    gap: Gap<'_>,
    key: Key<'_>,
    value: Cid,
) -> Result<Box<Node>, MstError> {
    let mut node = match link {
        Some(link) => ld.open(link, layer, gap)?,
        None => Box::default(),
    };
    let j = node
        .position(key.bytes)
        .err()
        .ok_or_else(|| mismatch(key, "present"))?;
    let child = node.slot(j).take();
    if layer == key.layer {
        let (a, b) = split(ld, child, layer.saturating_sub(1), node.gap(j, gap), key)?;
        *node.slot(j) = a;
        let entry = Entry {
            key: key.bytes.to_vec(),
            value,
            right: b,
        };
        node.entries.insert(j, entry);
    } else {
        let below = insert(ld, child, layer - 1, node.gap(j, gap), key, value)?;
        *node.slot(j) = Some(Link::Loaded(below));
    }
    Ok(node)
}
