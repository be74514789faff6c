//! The census: who is enrolled where, kept in memory for questions that must not read the
//! gallery.
//!
//! Every live record has a *partition* (a caller-defined grouping of reference ids: a shard node
//! uses the cluster's 4,096 routing slots; without a [`Partitioner`] everything is partition 0)
//! and a *modality mask* (which searchable templates it holds). Per partition the census keeps
//! the live count, an order-independent digest of the records (a wrapping sum of one 64-bit hash
//! per record over its reference id and stored content), and how many records hold each
//! modality mask. From these it answers, without touching RocksDB or the segments:
//!
//! - how many records a partition holds and whether two copies of a partition hold the same
//!   records ([`PartitionSummary`]: equal counts and digests), which replicas compare to find
//!   out whether one of them missed a write;
//! - how many records a probe is really compared with in a search scope: those holding at
//!   least one modality the probe holds ([`Census::compared`]).
//!
//! It is rebuilt at every open from the `ids` key space (which stores each record's content hash
//! and mask beside its slot) and updated under the engine's write lock by every insert and
//! delete.

use crate::record::{Eye, Record, MIN_FINGER_MINUTIAE};

/// Groups reference ids into numbered partitions (e.g. a cluster's routing slots).
#[derive(Debug, Clone, Copy)]
pub struct Partitioner {
    /// Number of partitions; `of` returns values below it.
    pub count: u32,
    /// The partition of a reference id.
    pub of: fn(&str) -> u32,
}

/// One partition's records as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionSummary {
    /// Live records.
    pub records: u64,
    /// Wrapping sum of one hash per live record (reference id and content): two copies of a
    /// partition with the same records have the same digest.
    pub digest: u64,
}

/// A set of partitions a search is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSet {
    words: Vec<u64>,
}

impl PartitionSet {
    /// The partitions of `ranges` (half-open), of `count` partitions in all; partitions past
    /// `count` are ignored.
    pub fn from_ranges(count: u32, ranges: impl IntoIterator<Item = (u32, u32)>) -> Self {
        let mut words = vec![0u64; (count as usize).div_ceil(64)];
        for (start, end) in ranges {
            for p in start..end.min(count) {
                words[p as usize / 64] |= 1 << (p % 64);
            }
        }
        Self { words }
    }

    /// Whether partition `p` is in the set.
    pub fn contains(&self, p: u32) -> bool {
        self.words
            .get(p as usize / 64)
            .is_some_and(|w| w >> (p % 64) & 1 == 1)
    }
}

/// Which records a search covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope<'a> {
    /// Every live record.
    #[default]
    All,
    /// The live records of these partitions only.
    Partitions(&'a PartitionSet),
}

/// Modality mask bits: fingers 1..=10 are bits 0..=9, then left iris, right iris, face.
pub mod mask {
    /// The left iris.
    pub const IRIS_LEFT: u16 = 1 << 10;
    /// The right iris.
    pub const IRIS_RIGHT: u16 = 1 << 11;
    /// The face.
    pub const FACE: u16 = 1 << 12;

    /// The bit of ISO finger position `p` (1..=10).
    pub fn finger(p: u8) -> u16 {
        1 << (p - 1)
    }
}

/// The searchable templates of a record as a mask (fingers under the quality floor, which
/// records stored before the gate may hold, are not searchable).
pub fn modality_mask(record: &Record) -> u16 {
    let mut m = 0;
    for f in &record.fingers {
        if (1..=10).contains(&f.position) && f.minutiae.len() >= MIN_FINGER_MINUTIAE {
            m |= mask::finger(f.position);
        }
    }
    if record.iris(Eye::Left).is_some() {
        m |= mask::IRIS_LEFT;
    }
    if record.iris(Eye::Right).is_some() {
        m |= mask::IRIS_RIGHT;
    }
    if record.face.is_some() {
        m |= mask::FACE;
    }
    m
}

/// FNV-1a 64 with the MurmurHash3 finaliser: stable across builds and machines (replicas
/// compare digests), cheap, and good enough against accidental collisions.
pub fn hash64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    fmix64(h)
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// A record's share of its partition's digest.
fn record_digest(id: &str, content: u64) -> u64 {
    fmix64(hash64(id.as_bytes()) ^ content.rotate_left(29))
}

#[derive(Debug, Clone, Default)]
struct Partition {
    summary: PartitionSummary,
    /// Live records per modality mask (few distinct masks in practice).
    masks: Vec<(u16, u64)>,
}

impl Partition {
    fn add(&mut self, digest: u64, mask: u16) {
        self.summary.records += 1;
        self.summary.digest = self.summary.digest.wrapping_add(digest);
        match self.masks.iter_mut().find(|(m, _)| *m == mask) {
            Some((_, n)) => *n += 1,
            None => self.masks.push((mask, 1)),
        }
    }

    fn remove(&mut self, digest: u64, mask: u16) {
        self.summary.records = self.summary.records.saturating_sub(1);
        self.summary.digest = self.summary.digest.wrapping_sub(digest);
        if let Some(i) = self.masks.iter().position(|(m, _)| *m == mask) {
            self.masks[i].1 -= 1;
            if self.masks[i].1 == 0 {
                self.masks.swap_remove(i);
            }
        }
    }
}

/// What the census knows of one stored record (by dense slot).
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    partition: u32,
    mask: u16,
    digest: u64,
}

/// The census of one engine.
#[derive(Debug, Clone)]
pub(crate) struct Census {
    partitioner: Option<Partitioner>,
    by_slot: Vec<Entry>,
    partitions: Vec<Partition>,
}

impl Census {
    /// An empty census.
    pub(crate) fn new(partitioner: Option<Partitioner>) -> Self {
        let n = partitioner.map_or(1, |p| p.count.max(1)) as usize;
        Self {
            partitioner,
            by_slot: Vec::new(),
            partitions: vec![Partition::default(); n],
        }
    }

    fn partition_of(&self, id: &str) -> u32 {
        self.partitioner
            .map_or(0, |p| (p.of)(id).min(p.count.saturating_sub(1)))
    }

    /// Counts a live record: its reference id, dense slot, content hash and modality mask.
    pub(crate) fn add(&mut self, id: &str, slot: u32, content: u64, mask: u16) {
        let entry = Entry {
            partition: self.partition_of(id),
            mask,
            digest: record_digest(id, content),
        };
        let s = slot as usize;
        if s >= self.by_slot.len() {
            self.by_slot.resize(s + 1, Entry::default());
        }
        self.by_slot[s] = entry;
        self.partitions[entry.partition as usize].add(entry.digest, mask);
    }

    /// Forgets the live record in `slot` (deleted).
    pub(crate) fn remove(&mut self, slot: u32) {
        if let Some(e) = self.by_slot.get(slot as usize).copied() {
            self.partitions[e.partition as usize].remove(e.digest, e.mask);
        }
    }

    /// The partition of the record in `slot`.
    pub(crate) fn partition_of_slot(&self, slot: u32) -> u32 {
        self.by_slot.get(slot as usize).map_or(0, |e| e.partition)
    }

    /// Whether the record in `slot` lies in `scope`.
    pub(crate) fn in_scope(&self, slot: u32, scope: Scope<'_>) -> bool {
        match scope {
            Scope::All => true,
            Scope::Partitions(set) => set.contains(self.partition_of_slot(slot)),
        }
    }

    /// Every partition's summary, in partition order.
    pub(crate) fn summaries(&self) -> Vec<PartitionSummary> {
        self.partitions.iter().map(|p| p.summary).collect()
    }

    /// Live records in `scope`.
    pub(crate) fn live(&self, scope: Scope<'_>) -> u64 {
        self.parts(scope).map(|p| p.summary.records).sum()
    }

    /// Live records in `scope` holding at least one modality of `probe_mask`: the records a
    /// probe with those templates is compared with.
    pub(crate) fn compared(&self, probe_mask: u16, scope: Scope<'_>) -> u64 {
        self.parts(scope)
            .flat_map(|p| &p.masks)
            .filter(|(m, _)| m & probe_mask != 0)
            .map(|(_, n)| n)
            .sum()
    }

    fn parts<'a>(&'a self, scope: Scope<'a>) -> impl Iterator<Item = &'a Partition> + 'a {
        self.partitions
            .iter()
            .enumerate()
            .filter(move |(i, _)| match scope {
                Scope::All => true,
                Scope::Partitions(set) => set.contains(*i as u32),
            })
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_first_byte(id: &str) -> u32 {
        u32::from(id.as_bytes()[0] % 4)
    }

    #[test]
    fn counts_digests_and_compared_records_follow_inserts_and_deletes() {
        let p = Partitioner {
            count: 4,
            of: by_first_byte,
        };
        let mut a = Census::new(Some(p));
        a.add("a", 0, 11, mask::FACE);
        a.add("b", 1, 12, mask::IRIS_LEFT | mask::FACE);
        a.add("c", 2, 13, mask::finger(3));
        let mut b = Census::new(Some(p));
        // Same records in another order and other slots: same summaries.
        b.add("c", 7, 13, mask::finger(3));
        b.add("a", 8, 11, mask::FACE);
        b.add("b", 9, 12, mask::IRIS_LEFT | mask::FACE);
        assert_eq!(a.summaries(), b.summaries());
        // Other content under the same id changes the digest.
        let mut c = Census::new(Some(p));
        c.add("c", 0, 14, mask::finger(3));
        assert_ne!(
            c.summaries()[by_first_byte("c") as usize],
            a.summaries()[by_first_byte("c") as usize]
        );
        assert_eq!(a.live(Scope::All), 3);
        assert_eq!(a.compared(mask::FACE, Scope::All), 2);
        assert_eq!(a.compared(mask::finger(3), Scope::All), 1);
        assert_eq!(a.compared(mask::finger(4), Scope::All), 0);
        let only_a = PartitionSet::from_ranges(4, [(by_first_byte("a"), by_first_byte("a") + 1)]);
        assert_eq!(a.live(Scope::Partitions(&only_a)), 1);
        assert!(a.in_scope(0, Scope::Partitions(&only_a)));
        assert!(!a.in_scope(1, Scope::Partitions(&only_a)));
        a.remove(1);
        assert_eq!(a.compared(mask::FACE, Scope::All), 1);
        assert_ne!(a.summaries(), b.summaries());
        b.remove(9);
        assert_eq!(a.summaries(), b.summaries());
    }
}
