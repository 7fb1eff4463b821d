//! Partition leases and worker membership, in one JetStream KV bucket.
//!
//! A lease is a key (`p-<partition>`) whose entry expires after the lease time.
//! Taking one is a create (refused while another holder's entry lives); keeping it is
//! a compare-and-swap on the revision the holder last wrote, so a holder that paused
//! past its lease and woke up finds its revision stale and stops: it is fenced, not a
//! second owner. Workers also keep a membership key (`w-<name>`) alive, so each can
//! tell how many share the partitions and take its fair part.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;

use super::{Bus, ClusterError, js_error};

/// The KV bucket of partition leases and worker membership.
pub const LEASES_BUCKET: &str = "lg-leases";

/// What the bucket says now: the live workers and the partitions somebody holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Names of the workers whose membership key lives.
    pub workers: BTreeSet<String>,
    /// Partitions with a live lease.
    pub held: BTreeSet<u16>,
}

/// A worker's handle on the lease bucket.
#[derive(Clone, Debug)]
pub struct Leases {
    kv: async_nats::jetstream::kv::Store,
    holder: String,
}

fn lease_key(partition: u16) -> String {
    format!("p-{partition}")
}

impl Leases {
    /// The lease bucket (created with `ttl` as its entries' lifetime if missing) for
    /// `holder` (a worker's name, written in the leases it takes).
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be made.
    pub async fn open(bus: &Bus, holder: &str, ttl: Duration) -> Result<Leases, ClusterError> {
        let kv = super::key_value(bus, LEASES_BUCKET, Some(ttl)).await?;
        Ok(Leases {
            kv,
            holder: holder.to_owned(),
        })
    }

    /// This worker's name.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Take `partition` if nobody holds it: the lease's revision, or `None` when
    /// another holder has it.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be reached.
    pub async fn acquire(&self, partition: u16) -> Result<Option<u64>, ClusterError> {
        use async_nats::jetstream::kv::CreateErrorKind;
        match self
            .kv
            .create(lease_key(partition), self.holder.clone().into())
            .await
        {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(js_error(e)),
        }
    }

    /// Keep a lease taken at `revision` for another lease time: the new revision, or
    /// `None` when it was lost (it expired and another holder took it, or the bucket
    /// moved on): the caller must stop serving the partition.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be reached.
    pub async fn renew(&self, partition: u16, revision: u64) -> Result<Option<u64>, ClusterError> {
        use async_nats::jetstream::kv::UpdateErrorKind;
        match self
            .kv
            .update(lease_key(partition), self.holder.clone().into(), revision)
            .await
        {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(e) => Err(js_error(e)),
        }
    }

    /// Give up a lease taken at `revision` (after the partition's service stopped),
    /// so that another worker takes it at once rather than after the lease time.
    /// A lease already lost is left alone.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be reached.
    pub async fn release(&self, partition: u16, revision: u64) -> Result<(), ClusterError> {
        use async_nats::jetstream::kv::DeleteErrorKind;
        match self
            .kv
            .delete_expect_revision(lease_key(partition), Some(revision))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == DeleteErrorKind::WrongLastRevision => Ok(()),
            Err(e) => Err(js_error(e)),
        }
    }

    /// Say this worker is alive for another lease time.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be reached.
    pub async fn heartbeat(&self) -> Result<(), ClusterError> {
        self.kv
            .put(format!("w-{}", self.holder), bytes::Bytes::new())
            .await
            .map(drop)
            .map_err(js_error)
    }

    /// Say this worker is gone (at a clean stop), so the others re-divide now.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be reached.
    pub async fn leave(&self) -> Result<(), ClusterError> {
        self.kv
            .delete(format!("w-{}", self.holder))
            .await
            .map_err(js_error)
    }

    /// The live workers and the held partitions.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be read.
    pub async fn holdings(&self) -> Result<Holdings, ClusterError> {
        Holdings::read(&self.kv).await
    }
}

impl Holdings {
    /// What the lease bucket `kv` says now.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be read.
    pub async fn read(kv: &async_nats::jetstream::kv::Store) -> Result<Holdings, ClusterError> {
        let mut keys = kv.keys().await.map_err(js_error)?;
        let mut holdings = Holdings::default();
        while let Some(key) = keys.next().await {
            let key = key.map_err(js_error)?;
            if let Some(worker) = key.strip_prefix("w-") {
                holdings.workers.insert(worker.to_owned());
            } else if let Some(p) = key.strip_prefix("p-").and_then(|p| p.parse().ok()) {
                holdings.held.insert(p);
            }
        }
        Ok(holdings)
    }
}
