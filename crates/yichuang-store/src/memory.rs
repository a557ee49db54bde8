//! The in-memory store: the reference model of the contract, for tests and demos. Nothing
//! survives the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use yichuang_core::StreamId;

use crate::{
    AppendError, ChainHead, Commit, Digest, EventLink, EventLog, EventStore, IdempotencyRecord, IntegrityError,
    KeyChainRead, KeyLink, LogSummary, Shape, StoreError, StoredEvent,
};

/// An event store in memory. Clones share the same log (a clone is a reader handle).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<StoredEvent>,
    /// The link of each event, by position - 1.
    links: Vec<EventLink>,
    shape: Shape,
    keys: HashMap<(String, String), (IdempotencyRecord, KeyLink)>,
    /// Records 1 to this number were forgotten.
    forgotten: u64,
    meta: BTreeMap<String, String>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-written: appends mutate it
        // only after every check has passed, with infallible pushes.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventLog for MemoryStore {
    fn head(&self) -> Result<u64, StoreError> {
        Ok(self.read().events.len() as u64)
    }

    fn read_stream(&self, stream: StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self.read().events.iter().filter(|e| e.event.record().stream == stream).cloned().collect())
    }

    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let inner = self.read();
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(inner.events.len());
        Ok(inner.events[start..].iter().take(limit).cloned().collect())
    }

    fn chain_head(&self) -> Result<ChainHead, StoreError> {
        let inner = self.read();
        Ok(match inner.links.last() {
            Some(l) => {
                ChainHead { position: inner.links.len() as u64, hash: l.hash, keys: l.keys, key_hash: l.key_hash }
            }
            None => ChainHead::default(),
        })
    }

    fn hash_at(&self, position: u64) -> Result<Option<Digest>, StoreError> {
        let inner = self.read();
        let index = usize::try_from(position).ok().and_then(|p| p.checked_sub(1));
        Ok(index.and_then(|i| inner.links.get(i)).map(|l| l.hash))
    }
}

impl EventStore for MemoryStore {
    fn append(&mut self, commits: &[Commit]) -> Result<u64, AppendError> {
        let mut inner = self.write();
        let inner = &mut *inner;
        let keys = &inner.keys;
        let mut known = |scope: &str, key: &str| Ok(keys.contains_key(&(scope.to_owned(), key.to_owned())));
        let planned = inner.shape.check(commits, &mut known)?;
        let mut key_links = planned.keys.iter();
        for commit in commits {
            inner.events.extend(commit.events.iter().cloned());
            if let Some(r) = &commit.idempotency {
                let link = *key_links.next().expect("one link per record");
                inner.keys.insert((r.scope.clone(), r.key.clone()), (r.clone(), link));
            }
        }
        inner.links.extend(planned.events.iter().copied());
        let head = planned.head;
        inner.shape.commit(planned);
        debug_assert_eq!(inner.shape.head, inner.events.len() as u64);
        Ok(head)
    }

    fn idempotency(&self, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.read().keys.get(&(scope.to_owned(), key.to_owned())).map(|(r, _)| r.clone()))
    }

    fn forget_keys_before(&mut self, position: u64) -> Result<u64, StoreError> {
        let mut inner = self.write();
        let before = inner.keys.len();
        let forgotten = inner.keys.values().filter(|(r, _)| r.position < position).map(|(_, l)| l.number).max();
        inner.keys.retain(|_, (r, _)| r.position >= position);
        if let Some(n) = forgotten {
            inner.forgotten = inner.forgotten.max(n);
        }
        Ok((before - inner.keys.len()) as u64)
    }

    fn verify(
        &mut self,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<LogSummary, IntegrityError> {
        let inner = self.read();
        let mut shape = Shape::default();
        let mut changes = Vec::new();
        for (e, link) in inner.events.iter().zip(&inner.links) {
            shape.verify_next(e, link, &mut changes)?;
            visit(e).map_err(|why| IntegrityError::Refused { position: e.position, why })?;
        }
        let recorded = inner.shape.chain;
        shape.verify_recorded_head(Some(&recorded))?;
        let mut records: Vec<&(IdempotencyRecord, KeyLink)> = inner.keys.values().collect();
        records.sort_by_key(|(_, l)| l.number);
        for (r, _) in &records {
            if r.position > shape.head {
                return Err(IntegrityError::DanglingKey { key: r.key.clone(), position: r.position, head: shape.head });
            }
        }
        let mut read = KeyChainRead::default();
        for (r, l) in &records {
            read.next(r, l);
        }
        let first = records.first().map(|(r, l)| (r, l));
        let head = read.cross_check(shape.chain, Some(&recorded), inner.forgotten, &changes, first)?;
        Ok(LogSummary {
            events: shape.head,
            streams: shape.versions.len() as u64,
            idempotency_records: inner.keys.len() as u64,
            head,
        })
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.read().meta.get(key).cloned())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write().meta.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn readers(&self) -> Arc<dyn EventLog + Send + Sync> {
        Arc::new(self.clone())
    }
}
