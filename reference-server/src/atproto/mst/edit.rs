//! Editing a tree: the tree of a changed key set, made from the old tree by encoding only the nodes around the changes.
//!
//! A node at layer `L` covers the open key range between two neighbouring
//! keys of height above `L` (or an end of the key space), and is a function
//! of the keys in that range. [`Tree::edit`] walks down from the new root:
//! for each new node it knows the old nodes of the same layer whose ranges
//! overlap its range. When exactly one does, with the same range, and no
//! change falls inside, that old node is the answer, block and all.
//! Otherwise the node is made afresh: its keys are the old ones of its layer
//! in range, with the changes of its layer applied, and each subtree between
//! them is made the same way one layer down from the old subtrees that
//! overlap it. So only nodes whose range holds a change, or whose range
//! moved because a key above them came or went (the split and merge paths),
//! are encoded: O(changes × depth).
//!
//! Above the old root the old tree counts as a chain of nodes without keys
//! (an old subtree may sit below the layer being made); when the new tree
//! is lower, the old nodes above its top are opened first.
//!
//! The nodes a commit adds ([`Edited::added`]) are the encoded ones minus
//! the old nodes opened on the way: an old node that was not opened is still
//! in the new tree, and no tree holds the same node twice (each node holds
//! its own keys, or is the only parent of its subtree), so an encoded node
//! that equals an old one must equal one it replaced.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use wire::cid::Cid;

use super::{Entry, Link, Node, Tree, empty, height};

/// What [`Tree::edit`] made.
#[derive(Debug, Clone)]
pub struct Edited {
    pub tree: Tree,
    /// The blocks of the new tree's nodes that are not nodes of the old tree.
    pub added: BTreeMap<Cid, Vec<u8>>,
    /// How many nodes were encoded, including any that came out the same as before.
    pub encoded: usize,
}

/// A key's new record (`None`: removed) and its height.
#[derive(Debug, Clone, Copy)]
struct Change<'a> {
    key: &'a str,
    value: Option<Cid>,
    height: u32,
}

/// An old subtree and the open key range it covers (`None`: unbounded).
#[derive(Debug, Clone, Copy)]
struct Old<'a> {
    lo: Option<&'a str>,
    hi: Option<&'a str>,
    node: &'a Arc<Node>,
}

/// The nodes encoded so far, and the old nodes they replace.
#[derive(Debug, Default)]
struct Editor {
    fresh: Vec<Arc<Node>>,
    opened: BTreeSet<Cid>,
}

impl Tree {
    /// The tree with `changes` applied (key → new record, `None` to remove),
    /// sharing every subtree the changes leave alone with this one. A change
    /// that changes nothing (the same record, or removing a missing key) is
    /// left out.
    pub fn edit(&self, changes: &BTreeMap<String, Option<Cid>>) -> Edited {
        let mut heights = self.heights.clone();
        let mut list = Vec::with_capacity(changes.len());
        for (key, value) in changes {
            let old = self.find(key);
            if old.map(|(v, _)| v) == *value {
                continue;
            }
            // A key in the tree has the height of its node: no need to hash it again.
            let h = old.map_or_else(|| height(key), |(_, h)| h);
            match (old, value) {
                (None, Some(_)) => *heights.entry(h).or_insert(0) += 1,
                (Some(_), None) => {
                    if let Some(count) = heights.get_mut(&h) {
                        *count -= 1;
                        if *count == 0 {
                            heights.remove(&h);
                        }
                    }
                }
                _ => {}
            }
            list.push(Change {
                key,
                value: *value,
                height: h,
            });
        }
        let top = heights.keys().next_back().copied().unwrap_or(0);
        let mut editor = Editor::default();
        let mut olds = vec![Old {
            lo: None,
            hi: None,
            node: &self.root,
        }];
        // A tree that lost its highest keys: its nodes above the new top go.
        for layer in (top + 1..=self.root.layer).rev() {
            editor.opened.extend(olds.iter().map(|old| old.node.cid));
            olds = one_down(&olds, layer);
        }
        let root = editor
            .make(None, None, top, &olds, &list)
            .unwrap_or_else(|| {
                let root = empty();
                editor.fresh.push(root.clone());
                root
            });
        let added = editor
            .fresh
            .iter()
            .filter(|n| !editor.opened.contains(&n.cid))
            .map(|n| (n.cid, n.block.clone()))
            .collect();
        Edited {
            tree: Tree { root, heights },
            added,
            encoded: editor.fresh.len(),
        }
    }
}

impl Editor {
    /// The node at `layer` for the keys in `(lo, hi)`, given the old
    /// subtrees overlapping that range (at `layer`, or lower where the old
    /// tree was lower) and the changes inside it, in key order.
    fn make<'a>(
        &mut self,
        lo: Option<&'a str>,
        hi: Option<&'a str>,
        layer: u32,
        olds: &[Old<'a>],
        changes: &[Change<'a>],
    ) -> Link {
        if changes.is_empty() {
            match olds {
                [] => return None,
                [old] if old.lo == lo && old.hi == hi && old.node.layer == layer => {
                    return Some(old.node.clone());
                }
                _ => {}
            }
        }
        // The keys of this layer in range: the old ones, changed. The old
        // nodes of this layer give way to the new one.
        let at_layer = olds.iter().filter(|old| old.node.layer == layer);
        self.opened.extend(at_layer.clone().map(|old| old.node.cid));
        let mut own: Vec<(&'a str, Cid)> = at_layer
            .flat_map(|old| &old.node.entries)
            .map(|e| (e.key.as_str(), e.value))
            .filter(|(key, _)| inside(key, lo, hi))
            .collect();
        for change in changes {
            match (
                own.binary_search_by(|(k, _)| (*k).cmp(change.key)),
                change.value,
            ) {
                (Ok(i), Some(value)) => own[i].1 = value,
                (Ok(i), None) => {
                    own.remove(i);
                }
                (Err(i), Some(value)) if change.height == layer => {
                    own.insert(i, (change.key, value));
                }
                _ => {}
            }
        }
        // The subtrees between them, one layer down.
        let lower = one_down(olds, layer);
        let bounds: Vec<Option<&'a str>> = std::iter::once(lo)
            .chain(own.iter().map(|(k, _)| Some(*k)))
            .chain(std::iter::once(hi))
            .collect();
        let mut children = Vec::with_capacity(own.len() + 1);
        for pair in bounds.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if layer == 0 {
                children.push(None);
                continue;
            }
            let olds: Vec<Old<'a>> = lower
                .iter()
                .filter(|o| before(o.lo, b) && before(a, o.hi))
                .copied()
                .collect();
            let start = changes.partition_point(|c| a.is_some_and(|a| c.key <= a));
            let end = changes.partition_point(|c| b.is_none_or(|b| c.key < b));
            let changes = &changes[start..end.max(start)];
            children.push(self.make(a, b, layer - 1, &olds, changes));
        }
        let mut children = children.into_iter();
        let left = children.next().flatten();
        if own.is_empty() && left.is_none() {
            return None;
        }
        let entries = own
            .into_iter()
            .zip(children)
            .map(|((key, value), right)| Entry {
                key: key.to_owned(),
                value,
                right,
            })
            .collect();
        let node = Node::new(layer, left, entries);
        self.fresh.push(node.clone());
        Some(node)
    }
}

/// The old subtrees one layer below `layer` under `olds`, with their ranges;
/// an old subtree already below `layer` stays as it is.
fn one_down<'a>(olds: &[Old<'a>], layer: u32) -> Vec<Old<'a>> {
    let mut below = Vec::new();
    for old in olds {
        if old.node.layer < layer {
            below.push(*old);
            continue;
        }
        let mut lo = old.lo;
        let mut child = &old.node.left;
        for entry in &old.node.entries {
            if let Some(node) = child {
                below.push(Old {
                    lo,
                    hi: Some(&entry.key),
                    node,
                });
            }
            lo = Some(entry.key.as_str());
            child = &entry.right;
        }
        if let Some(node) = child {
            below.push(Old {
                lo,
                hi: old.hi,
                node,
            });
        }
    }
    below
}

/// Whether `key` lies in the open range `(lo, hi)`.
fn inside(key: &str, lo: Option<&str>, hi: Option<&str>) -> bool {
    lo.is_none_or(|lo| lo < key) && hi.is_none_or(|hi| key < hi)
}

/// Whether a range starting after `lo` and one ending before `hi` overlap on
/// that side: `lo < hi`, with `None` as the open end.
fn before(lo: Option<&str>, hi: Option<&str>) -> bool {
    match (lo, hi) {
        (Some(lo), Some(hi)) => lo < hi,
        _ => true,
    }
}
