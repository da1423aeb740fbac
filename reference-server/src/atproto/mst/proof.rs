//! The commit proof: the nodes of the new tree a relay needs to invert a commit's operations.

use std::collections::{BTreeMap, BTreeSet};

use wire::cid::Cid;

use super::{Link, Node, Tree, height};

/// The nodes a proof names so far, by CID (a node's CID is unique in its tree).
type Touched<'a> = BTreeMap<Cid, &'a Node>;

impl Tree {
    /// The nodes needed to invert, from this tree, the given changes:
    /// `present` keys are in this tree (their inverse removes them),
    /// `absent` keys are not (their inverse puts them back).
    pub fn proof(&self, present: &[&str], absent: &[&str]) -> BTreeSet<Cid> {
        self.proof_nodes(present, absent).into_keys().collect()
    }

    /// [`Tree::proof`] with the nodes' blocks.
    pub fn proof_blocks(&self, present: &[&str], absent: &[&str]) -> BTreeMap<Cid, Vec<u8>> {
        self.proof_nodes(present, absent)
            .into_iter()
            .map(|(cid, node)| (cid, node.block.clone()))
            .collect()
    }

    fn proof_nodes(&self, present: &[&str], absent: &[&str]) -> Touched<'_> {
        let mut touched = Touched::new();
        for key in present {
            invert_add(&self.root, key, &mut touched);
        }
        for key in absent {
            invert_delete(&self.root, key, &mut touched);
        }
        touched
    }
}

/// Which child of `node` holds keys around `key`, and whether `key` is an entry there.
fn locate<'a>(node: &'a Node, key: &str) -> (&'a Link, Option<usize>) {
    match node.search(key) {
        Ok(i) => (&None, Some(i)),
        Err(i) => (node.child_before(i), None),
    }
}

/// Removing `key`: the path to it, then the spines its neighbours merge along.
fn invert_add<'a>(root: &'a Node, key: &str, touched: &mut Touched<'a>) {
    let mut at = Some(root);
    while let Some(node) = at {
        touched.insert(node.cid, node);
        match locate(node, key) {
            (_, Some(i)) => {
                merge_spines(node.child_before(i), &node.entries[i].right, touched);
                return;
            }
            (child, None) => at = child.as_deref(),
        }
    }
}

/// The spines a removed key's neighbours meet along: the right edge of
/// the subtree before it and the left edge of the subtree after it, to
/// the bottom (a relay reads them to merge, or to learn a side is alone).
fn merge_spines<'a>(before: &'a Link, after: &'a Link, touched: &mut Touched<'a>) {
    let mut a = before.as_deref();
    while let Some(x) = a {
        touched.insert(x.cid, x);
        a = x.entries.last().map_or(&x.left, |e| &e.right).as_deref();
    }
    let mut b = after.as_deref();
    while let Some(y) = b {
        touched.insert(y.cid, y);
        b = y.left.as_deref();
    }
}

/// Putting `key` back: the path down to its layer, then the subtree it splits.
fn invert_delete<'a>(root: &'a Node, key: &str, touched: &mut Touched<'a>) {
    let layer = height(key);
    if root.layer < layer {
        // The key goes above the root: the whole tree splits around it.
        split(Some(root), key, touched);
        return;
    }
    let mut at = Some(root);
    while let Some(node) = at {
        touched.insert(node.cid, node);
        let (child, _) = locate(node, key);
        if node.layer == layer {
            split(child.as_deref(), key, touched);
            return;
        }
        at = child.as_deref();
    }
}

fn split<'a>(mut at: Option<&'a Node>, key: &str, touched: &mut Touched<'a>) {
    while let Some(node) = at {
        touched.insert(node.cid, node);
        at = locate(node, key).0.as_deref();
    }
}
