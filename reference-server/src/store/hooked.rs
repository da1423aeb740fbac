//! A test store that forwards to another and lets a test step into group commits and count reads.

use super::{
    Committed, LogStore, Position, ReadBatch, ReadLimit, Record, RecordFilter, Retention,
    StoreError, StreamBounds, Trimmed, WriteBatch,
};

/// What a test does around the wrapped store's calls.
pub trait Hooks: Send + Sync + 'static {
    /// Runs a group commit; the default forwards it.
    fn commit_many(
        &self,
        inner: &dyn LogStore,
        batches: Vec<WriteBatch>,
    ) -> Result<Vec<Committed>, StoreError> {
        inner.commit_many(batches)
    }

    /// Called before each `read_after`.
    fn on_read(&self) {}
}

/// `inner` with `hooks` around its commits and reads; everything else forwards.
pub struct Hooked<H> {
    pub inner: Box<dyn LogStore>,
    pub hooks: H,
}

impl<H> std::fmt::Debug for Hooked<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooked")
    }
}

impl<H: Hooks> LogStore for Hooked<H> {
    fn commit(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        let mut committed = self.commit_many(vec![batch])?;
        Ok(committed.remove(0))
    }

    fn commit_many(&self, batches: Vec<WriteBatch>) -> Result<Vec<Committed>, StoreError> {
        self.hooks.commit_many(self.inner.as_ref(), batches)
    }

    fn read_after(
        &self,
        stream: &str,
        after: Position,
        limit: ReadLimit,
        filter: RecordFilter<'_>,
    ) -> Result<ReadBatch, StoreError> {
        self.hooks.on_read();
        self.inner.read_after(stream, after, limit, filter)
    }

    fn get(&self, stream: &str, position: Position) -> Result<Option<Record>, StoreError> {
        self.inner.get(stream, position)
    }

    fn bounds(&self, stream: &str) -> Result<StreamBounds, StoreError> {
        self.inner.bounds(stream)
    }

    fn trim(
        &self,
        stream: &str,
        retention: &Retention,
        now_micros: u64,
    ) -> Result<Trimmed, StoreError> {
        self.inner.trim(stream, retention, now_micros)
    }

    fn cursor(&self, name: &str) -> Result<Option<Position>, StoreError> {
        self.inner.cursor(name)
    }

    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.kv_get(namespace, key)
    }

    fn kv_scan(&self, namespace: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.kv_scan(namespace)
    }
}
