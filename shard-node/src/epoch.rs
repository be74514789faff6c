//! The shard map epoch fence, persisted in one small file next to the engine's directory.
//!
//! A coordinator sends its shard map epoch with every write; the node refuses an epoch lower
//! than the highest it has seen, so a coordinator still holding an old map cannot write after a
//! newer one has moved slots away. The highest epoch must survive a restart, or a restarted node
//! would accept the stale coordinator again: it is written to `map_epoch` (24 bytes: magic
//! `ABISEPOC`, format version u32 LE = 1, epoch u64 LE, CRC-32 of the previous 20 bytes, u32
//! LE) through a temporary file, fsync, rename and a directory fsync, before the write that
//! raised it is carried out. A file that fails its checks stops the node at start-up rather
//! than resetting the fence to 0.

use anyhow::{bail, Context};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"ABISEPOC";
const VERSION: u32 = 1;
const FILE_LEN: usize = 24;

/// The file's name in the node's data directory.
pub const FILE_NAME: &str = "map_epoch";

/// Why a write's epoch is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleEpoch {
    /// The epoch the request carried.
    pub got: u64,
    /// The highest epoch the node has seen.
    pub highest: u64,
}

/// The highest epoch seen, and where it is kept.
#[derive(Debug)]
pub struct EpochFence {
    path: PathBuf,
    highest: u64,
}

impl EpochFence {
    /// Loads the fence from `dir` (0 when the file does not exist yet).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(FILE_NAME);
        let highest = match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes)
                .with_context(|| format!("epoch file {} is unreadable", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Self { path, highest })
    }

    /// The highest epoch seen.
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Admits a write carrying `epoch`: 0 is not fenced; a lower epoch than the highest is
    /// refused; a higher one is persisted (durably) before this returns.
    pub fn admit(&mut self, epoch: u64) -> anyhow::Result<Result<(), StaleEpoch>> {
        if epoch == 0 || epoch == self.highest {
            return Ok(Ok(()));
        }
        if epoch < self.highest {
            return Ok(Err(StaleEpoch {
                got: epoch,
                highest: self.highest,
            }));
        }
        self.persist(epoch)?;
        self.highest = epoch;
        Ok(Ok(()))
    }

    fn persist(&self, epoch: u64) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&encode(epoch))?;
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

fn encode(epoch: u64) -> [u8; FILE_LEN] {
    let mut b = [0u8; FILE_LEN];
    b[..8].copy_from_slice(MAGIC);
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[12..20].copy_from_slice(&epoch.to_le_bytes());
    let crc = crc32fast::hash(&b[..20]);
    b[20..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> anyhow::Result<u64> {
    if b.len() != FILE_LEN || &b[..8] != MAGIC {
        bail!("not an epoch file ({} bytes)", b.len());
    }
    let word = |r: std::ops::Range<usize>| -> u32 {
        u32::from_le_bytes(b[r].try_into().expect("4 bytes"))
    };
    let version = word(8..12);
    if version != VERSION {
        bail!("epoch file format {version}, this build reads {VERSION}");
    }
    if word(20..24) != crc32fast::hash(&b[..20]) {
        bail!("checksum mismatch");
    }
    Ok(u64::from_le_bytes(b[12..20].try_into().expect("8 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_refuses_lower_epochs_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = EpochFence::open(dir.path()).unwrap();
        assert_eq!(f.highest(), 0);
        assert_eq!(f.admit(0).unwrap(), Ok(()));
        assert_eq!(f.admit(5).unwrap(), Ok(()));
        assert_eq!(f.admit(5).unwrap(), Ok(()));
        assert_eq!(f.admit(0).unwrap(), Ok(()));
        assert_eq!(f.admit(4).unwrap(), Err(StaleEpoch { got: 4, highest: 5 }));
        assert_eq!(f.admit(7).unwrap(), Ok(()));
        let mut again = EpochFence::open(dir.path()).unwrap();
        assert_eq!(again.highest(), 7);
        assert!(again.admit(6).unwrap().is_err());
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        EpochFence::open(dir.path())
            .unwrap()
            .admit(9)
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
