//! The AT Protocol state and its one write path: every change and the frame announcing it are one store commit, with `seq` decided and the commit enqueued under the writer lock.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use wire::cbor::{DecodeLimits, Value, decode, encode};
use wire::cid::Cid;

use super::account::{Account, Identity};
use super::events;
use super::repo::{Applied, Repo, RepoError, Write};
use super::xrpc::XrpcError;
use super::{LABELS_STREAM, REPOS_STREAM};
use crate::config::AtprotoConfig;
use crate::defects::{Defect, Defects};
use crate::log::{Enqueued, Log};
use crate::store::{NewRecord, Retention, StoreError, WriteBatch};

mod identity;

const META_NS: &str = "atproto.meta";
const ACCOUNTS_NS: &str = "atproto.accounts";
const RECORDS_NS: &str = "atproto.records";
const HEADS_NS: &str = "atproto.heads";

/// The largest CAR slice a `#commit` may carry.
pub const MAX_BLOCKS_BYTES: usize = 2_000_000;
/// The most operations one commit may have.
pub const MAX_OPS: usize = 200;

/// What the AT Protocol keeps between requests.
#[derive(Debug)]
pub struct State {
    /// The MAC key of session tokens.
    pub jwt_secret: [u8; 32],
    /// The identity whose label key signs labels by default.
    pub labeler: Identity,
    /// Accounts and repositories; held while a commit is built and enqueued,
    /// so that `seq` order is commit order (not while it waits for the disk).
    pub repos: tokio::sync::Mutex<Repos>,
    labels: tokio::sync::Mutex<()>,
    retention: Retention,
    defects: Defects,
}

/// Accounts, handles and repositories.
#[derive(Debug, Default)]
pub struct Repos {
    pub accounts: BTreeMap<String, Account>,
    /// Handle → DID.
    pub handles: BTreeMap<String, String>,
    pub repos: BTreeMap<String, Repo>,
}

impl Repos {
    /// The account a handle, DID or e-mail names.
    pub fn find(&self, identifier: &str) -> Option<&Account> {
        let identifier = identifier.to_ascii_lowercase();
        if let Some(account) = self.accounts.get(&identifier) {
            return Some(account);
        }
        if let Some(did) = self.handles.get(&identifier) {
            return self.accounts.get(did);
        }
        self.accounts.values().find(|a| {
            a.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&identifier))
        })
    }
}

fn record_key(did: &str, path: &str) -> String {
    format!("{did} {path}")
}

fn load_error(what: &str) -> anyhow::Error {
    anyhow::anyhow!("the stored AT Protocol state is corrupt: {what}")
}

impl State {
    pub fn load(config: &AtprotoConfig, defects: &Defects, log: &Log) -> anyhow::Result<Self> {
        let store = log;
        let mut batch = WriteBatch::new();
        let jwt_secret = match store.kv_get(META_NS, "secret")? {
            Some(bytes) => bytes.try_into().map_err(|_| load_error("secret"))?,
            None => {
                let secret = crate::random::bytes32();
                batch.put(META_NS, "secret", secret.to_vec());
                secret
            }
        };
        let labeler = match store.kv_get(META_NS, "labeler")? {
            Some(bytes) => Identity::from_bytes(&bytes).ok_or_else(|| load_error("labeler"))?,
            None => {
                let identity = Identity::generate("labeler.test");
                batch.put(META_NS, "labeler", identity.to_bytes());
                identity
            }
        };
        if !batch.is_empty() {
            store.commit_at_start(batch)?;
        }
        let mut repos = Repos::default();
        for (did, bytes) in store.kv_scan(ACCOUNTS_NS)? {
            let account = Account::from_bytes(&bytes).ok_or_else(|| load_error(&did))?;
            repos
                .handles
                .insert(account.identity.handle.clone(), did.clone());
            repos.accounts.insert(did, account);
        }
        let mut records: BTreeMap<String, BTreeMap<String, Cid>> = BTreeMap::new();
        for (key, block) in store.kv_scan(RECORDS_NS)? {
            let (did, path) = key.split_once(' ').ok_or_else(|| load_error(&key))?;
            records
                .entry(did.to_owned())
                .or_default()
                .insert(path.to_owned(), Cid::for_dag_cbor(&block));
        }
        for (did, block) in store.kv_scan(HEADS_NS)? {
            let commit = decode(&block, &DecodeLimits::default()).map_err(|_| load_error(&did))?;
            let Value::Map(fields) = commit else {
                return Err(load_error(&did));
            };
            let Some(Value::String(rev)) = fields.get("rev") else {
                return Err(load_error(&did));
            };
            let repo = Repo::restore(
                &did,
                records.remove(&did).unwrap_or_default(),
                rev.clone(),
                (Cid::for_dag_cbor(&block), block.clone()),
            );
            repos.repos.insert(did, repo);
        }
        Ok(Self {
            jwt_secret,
            labeler,
            repos: tokio::sync::Mutex::new(repos),
            labels: tokio::sync::Mutex::new(()),
            retention: Retention {
                max_age_micros: u64::try_from(config.backfill_age.as_micros()).ok(),
                max_records: Some(config.backfill_events),
            },
            defects: defects.clone(),
        })
    }
}

/// A frame, made once its seq is known.
pub(super) type Frame<'a> = Box<dyn FnOnce(u64) -> Vec<u8> + Send + 'a>;

/// Appends `frames` (built from their seqs) to `stream` in `batch` and
/// enqueues the commit. The caller holds the lock that serialises appends to
/// `stream`, so the seqs are the positions the store will give; it may let
/// the lock go before [`settle`] waits for the disk.
pub(super) fn enqueue_frames(
    log: &Log,
    stream: &str,
    mut batch: WriteBatch,
    frames: Vec<Frame<'_>>,
    now: u64,
) -> Result<Pending, XrpcError> {
    let first = log.next_position(stream)?;
    let seqs: Vec<u64> = (first..).take(frames.len()).collect();
    for (frame, seq) in frames.into_iter().zip(&seqs) {
        batch.append(
            stream,
            NewRecord {
                timestamp_micros: now,
                payload: frame(*seq),
            },
        );
    }
    Ok(Pending {
        seqs,
        enqueued: log.enqueue(batch)?,
    })
}

/// A commit of frames on its way to the disk.
pub(super) struct Pending {
    seqs: Vec<u64>,
    enqueued: Enqueued,
}

/// Waits until `pending` is durable, checks that the store gave the seqs
/// promised, and trims the stream to the replay window.
pub(super) async fn settle(
    log: &Log,
    retention: Retention,
    stream: &str,
    pending: Pending,
    now: u64,
) -> Result<Vec<u64>, XrpcError> {
    let Pending { seqs, enqueued } = pending;
    let committed = enqueued.durable().await?;
    if committed.positions != seqs {
        tracing::error!(?seqs, positions = ?committed.positions, "seq and store position differ");
        return Err(StoreError::Engine("seq and store position differ".into()).into());
    }
    let bounds = log.bounds(stream)?;
    let kept = bounds.last.unwrap_or(0) + 1 - bounds.first.unwrap_or(1);
    if retention.max_records.is_some_and(|max| kept > max)
        || seqs.last().is_some_and(|s| s % 64 == 0)
    {
        log.trim(stream, retention, now).await?;
    }
    Ok(seqs)
}

impl State {
    /// The `time` of `#commit` and `#sync` frames; empty (left out) under `frames-without-time`.
    fn frame_time(&self, now: u64) -> String {
        if self.defects.contains(Defect::FramesWithoutTime) {
            String::new()
        } else {
            events::time(now)
        }
    }

    /// The key labels are signed with: `identity`'s label key, or its signing key under `label-bad-signature`.
    pub fn label_key(&self, identity: &Identity) -> super::keys::Keypair {
        if self.defects.contains(Defect::LabelBadSignature) {
            identity.signing.clone()
        } else {
            identity.label.clone()
        }
    }
}

fn repo_error(error: RepoError) -> XrpcError {
    XrpcError::invalid(error.to_string())
}

impl State {
    /// Creates an account and its empty repository: `#identity`, `#account`, `#sync`.
    pub async fn create_account(
        &self,
        log: &Log,
        handle: &str,
        email: Option<String>,
        password: &str,
        now: u64,
    ) -> Result<Account, XrpcError> {
        let mut repos = self.repos.lock().await;
        if repos.handles.contains_key(handle) {
            return Err(XrpcError::new(
                StatusCode::BAD_REQUEST,
                "HandleNotAvailable",
                "Handle already taken",
            ));
        }
        let account = Account::new(Identity::generate(handle), email, password);
        let did = account.did().to_owned();
        let mut repo = Repo::new(&did);
        let applied = repo
            .apply(&[], &account.identity.signing, now)
            .map_err(repo_error)?;
        let mut batch = WriteBatch::new();
        batch.put(ACCOUNTS_NS, &did, account.to_bytes());
        batch.put(HEADS_NS, &did, applied.commit_block.clone());
        let time = events::time(now);
        let sync_time = self.frame_time(now);
        let frames: Vec<Frame<'_>> = vec![
            Box::new(|seq| events::identity(seq, &did, handle, &time)),
            Box::new(|seq| events::account(seq, &did, true, None, &time)),
            Box::new(|seq| events::sync(seq, &did, &applied, &sync_time)),
        ];
        let pending = enqueue_frames(log, REPOS_STREAM, batch, frames, now)?;
        repos.handles.insert(handle.to_owned(), did.clone());
        repos.accounts.insert(did.clone(), account.clone());
        repos.repos.insert(did, repo);
        drop(repos);
        settle(log, self.retention, REPOS_STREAM, pending, now).await?;
        Ok(account)
    }

    /// Applies `writes` to `did`'s repository as one commit and emits its `#commit`.
    pub async fn commit(
        &self,
        log: &Log,
        did: &str,
        writes: &[Write],
        swap_commit: Option<&str>,
        now: u64,
    ) -> Result<Applied, XrpcError> {
        if writes.len() > MAX_OPS {
            return Err(XrpcError::invalid(format!(
                "Too many writes. Max: {MAX_OPS}"
            )));
        }
        let mut repos = self.repos.lock().await;
        let account = repos
            .accounts
            .get(did)
            .ok_or_else(|| XrpcError::invalid(format!("Could not find repo: {did}")))?;
        if !account.active {
            return Err(XrpcError::invalid(format!(
                "Account is {}",
                account.status.as_deref().unwrap_or("deactivated")
            )));
        }
        let key = if self.defects.contains(Defect::CommitBadSignature) {
            account.identity.label.clone()
        } else {
            account.identity.signing.clone()
        };
        let mut repo = repos
            .repos
            .get(did)
            .cloned()
            .ok_or_else(|| XrpcError::invalid(format!("Could not find repo: {did}")))?;
        if let Some(swap) = swap_commit
            && repo.commit().is_none_or(|(cid, _)| cid.to_string() != swap)
        {
            return Err(XrpcError::new(
                StatusCode::BAD_REQUEST,
                "InvalidSwap",
                "Commit was at a different CID",
            ));
        }
        let proofs = !self.defects.contains(Defect::CommitWithoutProof);
        let applied = repo
            .apply_with(writes, &key, now, proofs)
            .map_err(repo_error)?;
        if applied.car.len() > MAX_BLOCKS_BYTES {
            return Err(XrpcError::invalid(format!(
                "The commit's blocks are {} bytes, more than {MAX_BLOCKS_BYTES}",
                applied.car.len()
            )));
        }
        let mut batch = WriteBatch::new();
        for write in writes {
            let key = record_key(did, write.path());
            match write.record() {
                Some(record) => batch.put(RECORDS_NS, &key, encode(record)),
                None => batch.delete(RECORDS_NS, &key),
            };
        }
        batch.put(HEADS_NS, did, applied.commit_block.clone());
        let time = self.frame_time(now);
        let frames: Vec<Frame<'_>> = vec![Box::new(|seq| {
            let frame = events::commit(seq, did, &applied, &time);
            if self.defects.contains(Defect::CborKeysUnsorted) {
                events::reverse_body_keys(&frame)
            } else {
                frame
            }
        })];
        let pending = enqueue_frames(log, REPOS_STREAM, batch, frames, now)?;
        repos.repos.insert(did.to_owned(), repo);
        drop(repos);
        settle(log, self.retention, REPOS_STREAM, pending, now).await?;
        Ok(applied)
    }

    /// Activates or deactivates an account: `#account`.
    pub async fn set_status(
        &self,
        log: &Log,
        did: &str,
        active: bool,
        status: Option<String>,
        now: u64,
    ) -> Result<u64, XrpcError> {
        let mut repos = self.repos.lock().await;
        let mut account = repos
            .accounts
            .get(did)
            .cloned()
            .ok_or_else(|| XrpcError::invalid(format!("Could not find account: {did}")))?;
        account.active = active;
        account.status = if active { None } else { status };
        let mut batch = WriteBatch::new();
        batch.put(ACCOUNTS_NS, did, account.to_bytes());
        let time = events::time(now);
        let status = account.status.clone();
        let mut frames: Vec<Frame<'_>> = vec![Box::new(|seq| {
            events::account(seq, did, active, status.as_deref(), &time)
        })];
        if self.defects.contains(Defect::NoAccountOnStatusChange) {
            frames.clear();
        }
        let pending = enqueue_frames(log, REPOS_STREAM, batch, frames, now)?;
        repos.accounts.insert(did.to_owned(), account);
        drop(repos);
        let seqs = settle(log, self.retention, REPOS_STREAM, pending, now).await?;
        Ok(seqs.first().copied().unwrap_or(0))
    }

    /// Signs `label` (without `sig`) with `key` and emits it as `#labels`.
    pub async fn label(
        &self,
        log: &Log,
        mut label: BTreeMap<String, Value>,
        key: &super::keys::Keypair,
        now: u64,
    ) -> Result<(u64, Value), XrpcError> {
        let sig = key.sign(&encode(&Value::Map(label.clone())));
        label.insert("sig".to_owned(), Value::Bytes(sig.to_vec()));
        let label = Value::Map(label);
        let frame_label = label.clone();
        let frames: Vec<Frame<'_>> = vec![Box::new(move |seq| events::labels(seq, frame_label))];
        let pending = {
            let _writer = self.labels.lock().await;
            enqueue_frames(log, LABELS_STREAM, WriteBatch::new(), frames, now)?
        };
        let seqs = settle(log, self.retention, LABELS_STREAM, pending, now).await?;
        Ok((seqs[0], label))
    }

    /// The stored block of a record.
    pub fn record_block(log: &Log, did: &str, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
        log.kv_get(RECORDS_NS, &record_key(did, path))
    }
}
