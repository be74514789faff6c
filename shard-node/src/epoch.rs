//! The shard map fence: the highest map epoch seen and the cluster the node belongs to,
//! persisted in one small file next to the engine's directory.
//!
//! A coordinator sends its cluster id and shard map epoch with every call. The node refuses
//! another cluster's calls, so a coordinator whose map was lost and made anew (a new cluster id)
//! cannot use it at all; it refuses a write whose epoch is lower than the highest it has seen,
//! so a coordinator still holding an old map cannot write after a newer one exists; and it
//! refuses a read whose epoch is lower than that of the last time it dropped slots, so nobody
//! reads a slot here by a map older than the slot's departure. (A read under an older map that
//! moved nothing away from this node is still right, and a coordinator's calls already running
//! when it publishes a new map finish on the old one.)
//!
//! All three must survive a restart, or a restarted node would accept the stale coordinator
//! again: they are written to `map_epoch` through a temporary file, fsync, rename and a
//! directory fsync, before the write that raised them is carried out (before the first record of
//! a drop is deleted). A file that fails its checks stops the node at start-up rather than
//! resetting the fence.
//!
//! Format 2 (112 bytes): magic `ABISEPOC`, version u32 LE = 2, epoch u64 LE, epoch of the last
//! drop u64 LE, cluster id length u8, the cluster id's UTF-8 bytes padded with zeros to 79
//! bytes, CRC-32 of everything before, u32 LE. Format 1 (24 bytes: magic, version 1, epoch, CRC)
//! is read as "no cluster id yet, no drop".

use anyhow::{bail, Context};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"ABISEPOC";
const VERSION: u32 = 2;
const V1_LEN: usize = 24;
/// Longest cluster id kept.
pub const MAX_CLUSTER_ID: usize = 79;
const FILE_LEN: usize = 8 + 4 + 8 + 8 + 1 + MAX_CLUSTER_ID + 4;

/// The file's name in the node's data directory.
pub const FILE_NAME: &str = "map_epoch";

/// Why a call's map is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The epoch is older than the highest the node has seen.
    Stale {
        /// The epoch the request carried.
        got: u64,
        /// The highest epoch the node has seen.
        highest: u64,
    },
    /// The node belongs to another cluster.
    OtherCluster {
        /// The cluster the request came from.
        got: String,
        /// The node's cluster.
        mine: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stale { got, highest } => write!(
                f,
                "stale shard map epoch {got}: this node has seen epoch {highest}"
            ),
            Self::OtherCluster { got, mine } => write!(
                f,
                "this node belongs to cluster {mine}, not {got} (a shard map made anew? restore \
                 the coordinator's shard_map.json)"
            ),
        }
    }
}

/// The highest epoch seen, the cluster, and where they are kept.
#[derive(Debug)]
pub struct EpochFence {
    path: PathBuf,
    highest: u64,
    dropped_at: u64,
    cluster: Option<String>,
}

impl EpochFence {
    /// Loads the fence from `dir` (epoch 0 and no cluster when the file does not exist yet).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(FILE_NAME);
        let (highest, dropped_at, cluster) = match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes)
                .with_context(|| format!("epoch file {} is unreadable", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, 0, None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Self {
            path,
            highest,
            dropped_at,
            cluster,
        })
    }

    /// The epoch of the last drop (0: none).
    pub fn dropped_at(&self) -> u64 {
        self.dropped_at
    }

    /// Records durably that slots are dropped under `epoch` (call before deleting anything).
    pub fn record_drop(&mut self, epoch: u64) -> anyhow::Result<()> {
        if epoch > self.dropped_at {
            self.persist(self.highest, epoch, self.cluster.as_deref())?;
            self.dropped_at = epoch;
        }
        Ok(())
    }

    /// The highest epoch seen.
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// The cluster the node belongs to, once a fenced write told it.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// Checks a write's map without changing anything: another cluster than the node's, or an
    /// epoch below the highest, is refused; 0 and no cluster are not fenced.
    pub fn check(&self, epoch: u64, cluster: Option<&str>) -> Result<(), Refusal> {
        other_cluster(cluster, self.cluster.as_deref())?;
        if epoch != 0 && epoch < self.highest {
            return Err(Refusal::Stale {
                got: epoch,
                highest: self.highest,
            });
        }
        Ok(())
    }

    /// Admits a write carrying `epoch` from `cluster`: refused as [`EpochFence::check`] says;
    /// otherwise a higher epoch, and the cluster id of a node that had none, are persisted
    /// (durably) before this returns.
    pub fn admit(
        &mut self,
        epoch: u64,
        cluster: Option<&str>,
    ) -> anyhow::Result<Result<(), Refusal>> {
        if let Err(refusal) = self.check(epoch, cluster) {
            return Ok(Err(refusal));
        }
        let adopt = self.cluster.is_none() && cluster.is_some_and(|c| !c.is_empty());
        if epoch <= self.highest && !adopt {
            return Ok(Ok(()));
        }
        let highest = epoch.max(self.highest);
        let cluster = if adopt {
            cluster.map(str::to_owned)
        } else {
            self.cluster.clone()
        };
        self.persist(highest, self.dropped_at, cluster.as_deref())?;
        self.highest = highest;
        self.cluster = cluster;
        Ok(Ok(()))
    }

    fn persist(&self, epoch: u64, dropped_at: u64, cluster: Option<&str>) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&encode(epoch, dropped_at, cluster)?)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

fn other_cluster(got: Option<&str>, mine: Option<&str>) -> Result<(), Refusal> {
    match (got, mine) {
        (Some(got), Some(mine)) if got != mine => Err(Refusal::OtherCluster {
            got: got.to_owned(),
            mine: mine.to_owned(),
        }),
        _ => Ok(()),
    }
}

fn encode(epoch: u64, dropped_at: u64, cluster: Option<&str>) -> anyhow::Result<[u8; FILE_LEN]> {
    let cluster = cluster.unwrap_or_default().as_bytes();
    if cluster.len() > MAX_CLUSTER_ID {
        bail!(
            "cluster id of {} bytes (at most {MAX_CLUSTER_ID})",
            cluster.len()
        );
    }
    let mut b = [0u8; FILE_LEN];
    b[..8].copy_from_slice(MAGIC);
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[12..20].copy_from_slice(&epoch.to_le_bytes());
    b[20..28].copy_from_slice(&dropped_at.to_le_bytes());
    b[28] = cluster.len() as u8;
    b[29..29 + cluster.len()].copy_from_slice(cluster);
    let crc = crc32fast::hash(&b[..FILE_LEN - 4]);
    b[FILE_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
    Ok(b)
}

fn decode(b: &[u8]) -> anyhow::Result<(u64, u64, Option<String>)> {
    if b.len() < 12 || &b[..8] != MAGIC {
        bail!("not an epoch file ({} bytes)", b.len());
    }
    let version = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes"));
    let len = match version {
        1 => V1_LEN,
        VERSION => FILE_LEN,
        v => bail!("epoch file format {v}, this build reads 1 and {VERSION}"),
    };
    if b.len() != len {
        bail!("epoch file format {version} of {} bytes", b.len());
    }
    let stored = u32::from_le_bytes(b[len - 4..].try_into().expect("4 bytes"));
    if stored != crc32fast::hash(&b[..len - 4]) {
        bail!("checksum mismatch");
    }
    let epoch = u64::from_le_bytes(b[12..20].try_into().expect("8 bytes"));
    if version == 1 {
        return Ok((epoch, 0, None));
    }
    let dropped_at = u64::from_le_bytes(b[20..28].try_into().expect("8 bytes"));
    let n = usize::from(b[28]);
    if n > MAX_CLUSTER_ID {
        bail!("cluster id length {n}");
    }
    let cluster = std::str::from_utf8(&b[29..29 + n])
        .context("cluster id is not UTF-8")?
        .to_owned();
    Ok((epoch, dropped_at, (!cluster.is_empty()).then_some(cluster)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stale(got: u64, highest: u64) -> Result<(), Refusal> {
        Err(Refusal::Stale { got, highest })
    }

    #[test]
    fn fence_refuses_lower_epochs_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = EpochFence::open(dir.path()).unwrap();
        assert_eq!(f.highest(), 0);
        assert_eq!(f.admit(0, None).unwrap(), Ok(()));
        assert_eq!(f.admit(5, None).unwrap(), Ok(()));
        assert_eq!(f.admit(5, None).unwrap(), Ok(()));
        assert_eq!(f.admit(0, None).unwrap(), Ok(()));
        assert_eq!(f.admit(4, None).unwrap(), stale(4, 5));
        assert_eq!(f.check(4, None), stale(4, 5));
        assert_eq!(f.admit(7, None).unwrap(), Ok(()));
        let mut again = EpochFence::open(dir.path()).unwrap();
        assert_eq!(again.highest(), 7);
        assert!(again.admit(6, None).unwrap().is_err());
    }

    #[test]
    fn the_first_cluster_is_adopted_and_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = EpochFence::open(dir.path()).unwrap();
        // A read does not bind the node.
        assert_eq!(f.check(3, Some("a")), Ok(()));
        assert_eq!(f.cluster(), None);
        assert_eq!(f.admit(3, Some("a")).unwrap(), Ok(()));
        assert_eq!(f.cluster(), Some("a"));
        let other = f.admit(9, Some("b")).unwrap().unwrap_err();
        assert!(matches!(other, Refusal::OtherCluster { .. }), "{other}");
        assert_eq!(f.highest(), 3, "a refused call changes nothing");
        assert!(f.check(3, Some("b")).is_err());
        let again = EpochFence::open(dir.path()).unwrap();
        assert_eq!((again.highest(), again.cluster()), (3, Some("a")));
    }

    #[test]
    fn the_last_drop_epoch_survives_a_reopen_and_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = EpochFence::open(dir.path()).unwrap();
        f.admit(6, Some("a")).unwrap().unwrap();
        assert_eq!(f.dropped_at(), 0);
        f.record_drop(6).unwrap();
        f.record_drop(4).unwrap();
        let again = EpochFence::open(dir.path()).unwrap();
        assert_eq!(
            (again.highest(), again.dropped_at(), again.cluster()),
            (6, 6, Some("a"))
        );
    }

    #[test]
    fn a_format_1_file_reads_as_no_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = [0u8; V1_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        b[12..20].copy_from_slice(&6u64.to_le_bytes());
        let crc = crc32fast::hash(&b[..20]);
        b[20..].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(dir.path().join(FILE_NAME), b).unwrap();
        let f = EpochFence::open(dir.path()).unwrap();
        assert_eq!((f.highest(), f.cluster()), (6, None));
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        EpochFence::open(dir.path())
            .unwrap()
            .admit(9, Some("c"))
            .unwrap()
            .unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = EpochFence::open(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("checksum"), "{err:#}");
        std::fs::write(&path, b"short").unwrap();
        assert!(EpochFence::open(dir.path()).is_err());
    }
}
