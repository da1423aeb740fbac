//! A handle change: the account's new handle and its `#identity` frame, in one commit.

use axum::http::StatusCode;

use super::{ACCOUNTS_NS, Frame, State, enqueue_frames, settle};
use crate::atproto::REPOS_STREAM;
use crate::atproto::events;
use crate::atproto::xrpc::XrpcError;
use crate::defects::Defect;
use crate::log::Log;
use crate::store::WriteBatch;

impl State {
    /// Gives `did` the handle `handle` (already checked and lower-cased) and
    /// emits `#identity` with it; returns its seq (0 under
    /// `no-identity-on-handle-change`, which emits nothing).
    pub async fn set_handle(
        &self,
        log: &Log,
        did: &str,
        handle: &str,
        now: u64,
    ) -> Result<u64, XrpcError> {
        let mut repos = self.repos.lock().await;
        if repos.handles.get(handle).is_some_and(|owner| owner != did) {
            return Err(XrpcError::new(
                StatusCode::BAD_REQUEST,
                "HandleNotAvailable",
                "Handle already taken",
            ));
        }
        let mut account = repos
            .accounts
            .get(did)
            .cloned()
            .ok_or_else(|| XrpcError::invalid(format!("Could not find account: {did}")))?;
        let old = std::mem::replace(&mut account.identity.handle, handle.to_owned());
        let mut batch = WriteBatch::new();
        batch.put(ACCOUNTS_NS, did, account.to_bytes());
        let time = events::time(now);
        let mut frames: Vec<Frame<'_>> =
            vec![Box::new(|seq| events::identity(seq, did, handle, &time))];
        if self.defects.contains(Defect::NoIdentityOnHandleChange) {
            frames.clear();
        }
        let pending = enqueue_frames(log, REPOS_STREAM, batch, frames, now)?;
        repos.handles.remove(&old);
        repos.handles.insert(handle.to_owned(), did.to_owned());
        repos.accounts.insert(did.to_owned(), account);
        drop(repos);
        let seqs = settle(log, self.retention, REPOS_STREAM, pending, now).await?;
        Ok(seqs.first().copied().unwrap_or(0))
    }
}
