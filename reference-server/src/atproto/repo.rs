//! A repository: records under an MST, signed commits, and the CAR slice each commit publishes on the firehose.
//!
//! A commit is the DAG-CBOR map `{did, version: 3, data, rev, prev: null,
//! sig}` where `sig` signs the same map without `sig`. Its CAR slice holds
//! the commit first, then every MST node the new tree added or a relay needs
//! to invert the operations ([`crate::atproto::mst::Tree::proof`]), then the
//! new records.
//!
//! A commit edits the tree ([`crate::atproto::mst::Tree::edit`]) rather than
//! building it again, so it costs O(writes × depth), not O(records).

use std::collections::BTreeMap;

use wire::car::write_car;
use wire::cbor::{Value, encode};
use wire::cid::Cid;

use super::keys::Keypair;
use super::mst::{Edited, Tree};
use super::tid::tid;

/// A repository's records, read through its tree.
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    tree: &'a Tree,
}

impl<'a> Records<'a> {
    /// The paths, in key order.
    pub fn keys(self) -> impl Iterator<Item = &'a str> {
        self.tree.entries().into_iter().map(|(path, _)| path)
    }

    /// Path and record CID, in key order.
    pub fn iter(self) -> impl Iterator<Item = (&'a str, Cid)> {
        self.tree.entries().into_iter()
    }

    pub fn get(self, path: &str) -> Option<Cid> {
        self.tree.get(path)
    }

    pub fn len(self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(self) -> bool {
        self.tree.is_empty()
    }
}

/// One change a commit makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Create {
        path: String,
        record: Value,
    },
    Update {
        path: String,
        record: Value,
    },
    /// Create or update, whichever applies.
    Put {
        path: String,
        record: Value,
    },
    Delete {
        path: String,
    },
}

impl Write {
    pub fn path(&self) -> &str {
        match self {
            Write::Create { path, .. }
            | Write::Update { path, .. }
            | Write::Put { path, .. }
            | Write::Delete { path } => path,
        }
    }

    /// The record written, unless this is a delete.
    pub fn record(&self) -> Option<&Value> {
        match self {
            Write::Create { record, .. }
            | Write::Update { record, .. }
            | Write::Put { record, .. } => Some(record),
            Write::Delete { .. } => None,
        }
    }
}

/// An operation as the `#commit` event lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub action: &'static str,
    pub path: String,
    /// The new record, for creates and updates.
    pub cid: Option<Cid>,
    /// The record it replaced, for updates and deletes.
    pub prev: Option<Cid>,
}

/// What one commit produced.
#[derive(Debug, Clone)]
pub struct Applied {
    pub commit: Cid,
    /// The signed commit block.
    pub commit_block: Vec<u8>,
    pub rev: String,
    /// The rev of the previous commit.
    pub since: Option<String>,
    /// The MST root before this commit.
    pub prev_data: Option<Cid>,
    pub ops: Vec<Op>,
    /// The CAR slice: roots `[commit]`, the commit block first.
    pub car: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    #[error("record {0} already exists")]
    Exists(String),
    #[error("record {0} does not exist")]
    Missing(String),
    #[error("{0} is written twice in one commit")]
    Repeated(String),
}

/// A repository in memory. Its tree is also its path → record map, and
/// shares its nodes with its clones, so a clone costs next to nothing.
#[derive(Debug, Clone)]
pub struct Repo {
    pub did: String,
    tree: Tree,
    rev: Option<String>,
    /// The latest commit and its block.
    commit: Option<(Cid, Vec<u8>)>,
}

/// The signed commit block for `data` at `rev`.
pub fn sign_commit(did: &str, data: Cid, rev: &str, key: &Keypair) -> (Cid, Vec<u8>) {
    let mut fields = BTreeMap::from([
        ("did".to_owned(), Value::String(did.to_owned())),
        ("version".to_owned(), Value::Integer(3)),
        ("data".to_owned(), Value::Link(data)),
        ("rev".to_owned(), Value::String(rev.to_owned())),
        ("prev".to_owned(), Value::Null),
    ]);
    let unsigned = encode(&Value::Map(fields.clone()));
    fields.insert("sig".to_owned(), Value::Bytes(key.sign(&unsigned).to_vec()));
    let block = encode(&Value::Map(fields));
    (Cid::for_dag_cbor(&block), block)
}

impl Repo {
    pub fn new(did: &str) -> Self {
        Self {
            did: did.to_owned(),
            tree: Tree::build(&BTreeMap::new()),
            rev: None,
            commit: None,
        }
    }

    /// A repository as it was stored: its records and its latest commit.
    /// The tree is built from scratch, once; commits then edit it.
    pub fn restore(
        did: &str,
        records: BTreeMap<String, Cid>,
        rev: String,
        commit: (Cid, Vec<u8>),
    ) -> Self {
        Self {
            did: did.to_owned(),
            tree: Tree::build(&records),
            rev: Some(rev),
            commit: Some(commit),
        }
    }

    pub fn rev(&self) -> Option<&str> {
        self.rev.as_deref()
    }

    /// The latest commit's CID and block, once there is one.
    pub fn commit(&self) -> Option<(&Cid, &[u8])> {
        self.commit
            .as_ref()
            .map(|(cid, block)| (cid, block.as_slice()))
    }

    /// Path → record CID, in key order.
    pub fn records(&self) -> Records<'_> {
        Records { tree: &self.tree }
    }

    /// Every MST node block of the current tree.
    pub fn tree_blocks(&self) -> BTreeMap<Cid, Vec<u8>> {
        self.tree.blocks()
    }

    pub fn data(&self) -> Cid {
        self.tree.root()
    }

    pub fn record(&self, path: &str) -> Option<Cid> {
        self.tree.get(path)
    }

    /// Applies `writes` as one commit signed by `key`, with a rev made from
    /// `micros` (moved past the previous rev when the clock did not advance).
    pub fn apply(
        &mut self,
        writes: &[Write],
        key: &Keypair,
        micros: u64,
    ) -> Result<Applied, RepoError> {
        self.apply_with(writes, key, micros, true)
    }

    /// [`Repo::apply`], with the proof nodes left out of the slice when
    /// `proofs` is false (the `commit-without-proof` defect).
    pub fn apply_with(
        &mut self,
        writes: &[Write],
        key: &Keypair,
        micros: u64,
        proofs: bool,
    ) -> Result<Applied, RepoError> {
        let mut changes: BTreeMap<String, Option<Cid>> = BTreeMap::new();
        let mut new_blocks: Vec<(Cid, Vec<u8>)> = Vec::new();
        let mut ops = Vec::new();
        for write in writes {
            let path = write.path().to_owned();
            if changes.contains_key(&path) {
                return Err(RepoError::Repeated(path));
            }
            // No path is written twice, so the tree before the commit answers for each.
            let prev = self.tree.get(&path);
            match (write, prev) {
                (Write::Create { .. }, Some(_)) => return Err(RepoError::Exists(path)),
                (Write::Update { .. } | Write::Delete { .. }, None) => {
                    return Err(RepoError::Missing(path));
                }
                (
                    Write::Create { record, .. }
                    | Write::Update { record, .. }
                    | Write::Put { record, .. },
                    _,
                ) => {
                    let block = encode(record);
                    let cid = Cid::for_dag_cbor(&block);
                    changes.insert(path.clone(), Some(cid));
                    new_blocks.push((cid, block));
                    let action = if prev.is_some() { "update" } else { "create" };
                    ops.push(Op {
                        action,
                        path,
                        cid: Some(cid),
                        prev,
                    });
                }
                (Write::Delete { .. }, Some(_)) => {
                    changes.insert(path.clone(), None);
                    ops.push(Op {
                        action: "delete",
                        path,
                        cid: None,
                        prev,
                    });
                }
            }
        }
        let Edited {
            tree, mut added, ..
        } = self.tree.edit(&changes);
        if proofs {
            let present: Vec<&str> = ops
                .iter()
                .filter(|o| o.cid.is_some())
                .map(|o| o.path.as_str())
                .collect();
            let absent: Vec<&str> = ops
                .iter()
                .filter(|o| o.cid.is_none())
                .map(|o| o.path.as_str())
                .collect();
            added.extend(tree.proof_blocks(&present, &absent));
        }
        let mut rev_micros = micros;
        let mut rev = tid(rev_micros, 0);
        while self.rev.as_ref().is_some_and(|last| rev <= *last) {
            rev_micros += 1;
            rev = tid(rev_micros, 0);
        }
        let (commit, commit_block) = sign_commit(&self.did, tree.root(), &rev, key);
        // The new nodes and the proof, in CID order, as one set.
        let mut blocks = vec![(commit, commit_block.clone())];
        blocks.extend(added);
        blocks.extend(new_blocks);
        let car = write_car(&[commit], &blocks);
        let applied = Applied {
            commit,
            commit_block: commit_block.clone(),
            rev: rev.clone(),
            since: self.rev.clone(),
            prev_data: self.commit.as_ref().map(|_| self.tree.root()),
            ops,
            car,
        };
        self.tree = tree;
        self.rev = Some(rev);
        self.commit = Some((commit, commit_block));
        Ok(applied)
    }
}

#[cfg(test)]
mod tests;
