//! MST nodes in memory and as blocks: the loader with its strict reader and placement check, and the writer.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::MstError;
use crate::cbor::{DecodeLimits, Value, decode, encode};
use crate::cid::{Cid, DAG_CBOR};

/// The longest key a node may hold, in bytes; repository paths are far shorter.
pub const MAX_KEY_LEN: usize = 1024;

/// The height of `key`: leading zero bits of its SHA-256, divided by two.
pub fn height(key: &[u8]) -> u32 {
    let mut zeros = 0;
    for byte in Sha256::digest(key) {
        zeros += byte.leading_zeros();
        if byte != 0 {
            break;
        }
    }
    zeros / 2
}

/// A subtree: a CID not read yet, or a node in memory.
#[derive(Debug)]
pub(super) enum Link {
    Stored(Cid),
    Loaded(Box<Node>),
}

#[derive(Debug, Default)]
pub(super) struct Node {
    pub left: Option<Link>,
    pub entries: Vec<Entry>,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub key: Vec<u8>,
    pub value: Cid,
    pub right: Option<Link>,
}

/// The open key range a subtree must lie in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gap<'k> {
    pub lo: Option<&'k [u8]>,
    pub hi: Option<&'k [u8]>,
}

impl Gap<'_> {
    pub const ALL: Gap<'static> = Gap { lo: None, hi: None };
}

impl Node {
    /// Subtree `j`: `l` for 0, else the right subtree of entry `j - 1`.
    pub fn slot(&mut self, j: usize) -> &mut Option<Link> {
        match j.checked_sub(1) {
            None => &mut self.left,
            Some(i) => &mut self.entries[i].right,
        }
    }

    /// The range of subtree `j`, inside this node's range `outer`.
    pub fn gap<'k>(&'k self, j: usize, outer: Gap<'k>) -> Gap<'k> {
        let key = |i: usize| self.entries.get(i).map(|e| e.key.as_slice());
        Gap {
            lo: j.checked_sub(1).map_or(outer.lo, key),
            hi: key(j).or(outer.hi),
        }
    }

    /// `Ok(i)` when entry `i` holds `key`, else `Err(j)`: subtree `j` is where it would be.
    pub fn position(&self, key: &[u8]) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.key.as_slice().cmp(key))
    }

    /// True for a node with nothing in it, which only the root of an empty tree may be.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.left.is_none()
    }
}

/// The tree: its root node and the root's layer, or `None` when empty.
pub(super) type Root = Option<(Box<Node>, u32)>;

/// Reads node blocks on demand; remembers which it has read.
pub(super) struct Loader<'f, 'b> {
    blocks: &'f dyn Fn(&Cid) -> Option<&'b [u8]>,
    seen: BTreeSet<Cid>,
}
impl<'f, 'b> Loader<'f, 'b> {
    pub fn new(blocks: &'f dyn Fn(&Cid) -> Option<&'b [u8]>) -> Self {
        Loader {
            blocks,
            seen: BTreeSet::new(),
        }
    }

    fn fetch(&mut self, cid: Cid) -> Result<Box<Node>, MstError> {
        let bytes = (self.blocks)(&cid).ok_or(MstError::MissingBlock(cid))?;
        if !self.seen.insert(cid) {
            return Err(bad(cid, "the node is linked from two places"));
        }
        parse(cid, bytes).map(Box::new)
    }

    /// The tree whose root is `cid`; its layer is the height of its keys.
    pub fn root(&mut self, cid: Cid) -> Result<Root, MstError> {
        let node = self.fetch(cid)?;
        let Some(first) = node.entries.first() else {
            if node.left.is_some() {
                return Err(bad(cid, "the root has no entries, only a subtree"));
            }
            return Ok(None);
        };
        let layer = height(&first.key);
        check_place(&node, cid, layer, Gap::ALL)?;
        Ok(Some((node, layer)))
    }

    /// The node behind `link`, which sits at `layer` within `gap`.
    pub fn open(&mut self, link: Link, layer: u32, gap: Gap<'_>) -> Result<Box<Node>, MstError> {
        match link {
            Link::Loaded(node) => Ok(node),
            Link::Stored(cid) => {
                let node = self.fetch(cid)?;
                check_place(&node, cid, layer, gap)?;
                Ok(node)
            }
        }
    }
}

pub(super) fn bad(cid: Cid, reason: impl Into<String>) -> MstError {
    MstError::BadBlock {
        cid,
        reason: reason.into(),
    }
}

/// Map, array and entry map: a node nests three containers deep.
fn limits() -> DecodeLimits {
    DecodeLimits {
        max_depth: 3,
        ..DecodeLimits::default()
    }
}

/// Reads the node block `bytes` named `cid`: hash, strict DAG-CBOR, exact shape, keys in
/// order, of one height, with maximal shared prefixes (so writing it back gives `bytes`).
pub(super) fn parse(cid: Cid, bytes: &[u8]) -> Result<Node, MstError> {
    if cid.codec() != DAG_CBOR {
        return Err(bad(cid, format!("codec 0x{:x}, not dag-cbor", cid.codec())));
    }
    if !cid.verifies(bytes) {
        return Err(bad(cid, "the block does not hash to its CID"));
    }
    let value = decode(bytes, &limits()).map_err(|e| bad(cid, format!("not DAG-CBOR: {e}")))?;
    let map = fields(cid, &value, "the node", &["e", "l"])?;
    let left = optional_link(cid, &map["l"], "l")?;
    let items = map["e"].as_array().ok_or_else(|| {
        bad(
            cid,
            format!("e is a {}, not an array", map["e"].type_name()),
        )
    })?;
    let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
    let mut layer = None;
    for (i, item) in items.iter().enumerate() {
        let at = format!("entry {i}");
        let entry = fields(cid, item, &at, &["k", "p", "t", "v"])?;
        let prefix = entry["p"]
            .as_i64()
            .and_then(|p| usize::try_from(p).ok())
            .ok_or_else(|| bad(cid, format!("{at}: p is not a non-negative integer")))?;
        let suffix = entry["k"]
            .as_bytes()
            .ok_or_else(|| bad(cid, format!("{at}: k is not bytes")))?;
        let value = *entry["v"]
            .as_link()
            .ok_or_else(|| bad(cid, format!("{at}: v is not a link")))?;
        let right = optional_link(cid, &entry["t"], &at)?;
        let previous = entries.last().map_or(&[][..], |e| e.key.as_slice());
        let Some(shared) = previous.get(..prefix) else {
            return Err(bad(
                cid,
                format!("{at}: p = {prefix} is longer than the previous key"),
            ));
        };
        if prefix.saturating_add(suffix.len()) > MAX_KEY_LEN {
            return Err(bad(
                cid,
                format!("{at}: key longer than {MAX_KEY_LEN} bytes"),
            ));
        }
        let key = [shared, suffix].concat();
        if i > 0 && key.as_slice() <= previous {
            return Err(bad(cid, format!("{at}: keys out of order")));
        }
        if common_prefix(previous, &key) != prefix {
            return Err(bad(
                cid,
                format!("{at}: p = {prefix} is not the whole shared prefix"),
            ));
        }
        let h = height(&key);
        if *layer.get_or_insert(h) != h {
            return Err(bad(
                cid,
                format!("{at}: keys of different heights in one node"),
            ));
        }
        entries.push(Entry {
            key,
            value,
            right: right.map(Link::Stored),
        });
    }
    Ok(Node {
        left: left.map(Link::Stored),
        entries,
    })
}

/// The map `value`, which must have exactly the keys `names` (in bytewise order).
fn fields<'v>(
    cid: Cid,
    value: &'v Value,
    what: &str,
    names: &[&str],
) -> Result<&'v BTreeMap<String, Value>, MstError> {
    let map = value
        .as_map()
        .ok_or_else(|| bad(cid, format!("{what} is a {}, not a map", value.type_name())))?;
    if !map.keys().map(String::as_str).eq(names.iter().copied()) {
        let found: Vec<&str> = map.keys().map(String::as_str).collect();
        return Err(bad(
            cid,
            format!("{what} has fields {found:?}, not {names:?}"),
        ));
    }
    Ok(map)
}

fn optional_link(cid: Cid, value: &Value, what: &str) -> Result<Option<Cid>, MstError> {
    match value {
        Value::Null => Ok(None),
        Value::Link(link) => Ok(Some(*link)),
        other => Err(bad(
            cid,
            format!("{what}: a {}, not a link or null", other.type_name()),
        )),
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Checks that the parsed node `cid` fits where it is linked: at `layer`, inside `gap`.
pub(super) fn check_place(node: &Node, cid: Cid, layer: u32, gap: Gap<'_>) -> Result<(), MstError> {
    if let (Some(first), Some(last)) = (node.entries.first(), node.entries.last()) {
        let h = height(&first.key);
        if h != layer {
            return Err(bad(cid, format!("keys of height {h} on layer {layer}")));
        }
        let after_lo = gap.lo.is_none_or(|lo| first.key.as_slice() > lo);
        let before_hi = gap.hi.is_none_or(|hi| last.key.as_slice() < hi);
        if !(after_lo && before_hi) {
            return Err(bad(
                cid,
                "keys outside the range the parent gives the subtree",
            ));
        }
    } else if node.left.is_none() {
        return Err(bad(cid, "an empty node below the root"));
    }
    let links = node.entries.iter().map(|e| &e.right);
    if layer == 0
        && std::iter::once(&node.left)
            .chain(links)
            .any(Option::is_some)
    {
        return Err(bad(cid, "a subtree below layer 0"));
    }
    Ok(())
}

/// Writes `link` and every node in memory below it, returning its CID.
pub(super) fn seal(link: Link, blocks: &mut BTreeMap<Cid, Vec<u8>>) -> Cid {
    match link {
        Link::Stored(cid) => cid,
        Link::Loaded(node) => seal_node(*node, blocks),
    }
}

/// Writes `node` and every node in memory below it, returning its CID.
pub(super) fn seal_node(node: Node, blocks: &mut BTreeMap<Cid, Vec<u8>>) -> Cid {
    let mut link = |l: Option<Link>| l.map_or(Value::Null, |l| Value::Link(seal(l, blocks)));
    let left = link(node.left);
    let mut previous: Vec<u8> = Vec::new();
    let mut entries = Vec::with_capacity(node.entries.len());
    for entry in node.entries {
        let prefix = common_prefix(&previous, &entry.key);
        entries.push(Value::map([
            ("k", Value::Bytes(entry.key[prefix..].to_vec())),
            (
                "p",
                Value::Integer(i64::try_from(prefix).unwrap_or(i64::MAX)),
            ),
            ("t", link(entry.right)),
            ("v", Value::Link(entry.value)),
        ]));
        previous = entry.key;
    }
    let block = encode(&Value::map([("e", Value::Array(entries)), ("l", left)]));
    let cid = Cid::for_dag_cbor(&block);
    blocks.insert(cid, block);
    cid
}

/// Writes the tree's nodes in memory and returns the root's CID; an empty tree is one empty node.
pub(super) fn seal_root(tree: Root, blocks: &mut BTreeMap<Cid, Vec<u8>>) -> Cid {
    match tree {
        Some((node, _)) => seal_node(*node, blocks),
        None => {
            let block = encode(&Value::map([
                ("e", Value::Array(Vec::new())),
                ("l", Value::Null),
            ]));
            let cid = Cid::for_dag_cbor(&block);
            blocks.insert(cid, block);
            cid
        }
    }
}
