//! Which slot a record lives in: the routing contract shared by the coordinator and every shard
//! node, and therefore part of API v1 (changing it would be API v2).
//!
//! `slot = routing_hash(reference_id) mod SLOT_COUNT`, where `routing_hash` is FNV-1a 64 over
//! the id's UTF-8 bytes followed by MurmurHash3's `fmix64` finaliser. FNV-1a alone is simple and
//! stable but mixes its last bytes poorly into the low bits; the finaliser spreads every input
//! bit over the whole word, so ids that differ only in a trailing counter still land in
//! unrelated slots. 4,096 slots let a cluster grow to a few hundred shard nodes with an even
//! spread while the shard map stays small (a few KiB). The hash is not keyed: reference ids
//! come from the registration system, not from an adversary.

use crate::error::{ProtoError, Result};
use crate::v1::SlotRange;

/// Number of slots in API v1.
pub const SLOT_COUNT: u32 = 4096;

/// FNV-1a 64 of `bytes` followed by MurmurHash3's `fmix64`.
pub fn routing_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The slot of a reference id, `0..SLOT_COUNT`.
pub fn slot_of(reference_id: &str) -> u32 {
    (routing_hash(reference_id.as_bytes()) % u64::from(SLOT_COUNT)) as u32
}

impl SlotRange {
    /// Every slot.
    pub fn all() -> Self {
        Self {
            start: 0,
            end: SLOT_COUNT,
        }
    }

    /// Whether `slot` lies in `start..end`.
    pub fn contains(&self, slot: u32) -> bool {
        (self.start..self.end).contains(&slot)
    }

    /// Number of slots in the range (0 if it is empty or reversed).
    pub fn len(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no slot.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks `start < end <= SLOT_COUNT`.
    pub fn validate(&self) -> Result<()> {
        if self.start < self.end && self.end <= SLOT_COUNT {
            Ok(())
        } else {
            Err(ProtoError::OutOfRange {
                field: "slot_range".into(),
                reason: format!(
                    "{}..{} is not a non-empty range within 0..{SLOT_COUNT}",
                    self.start, self.end
                ),
            })
        }
    }
}

/// Whether `reference_id`'s slot lies in any of `ranges`.
pub fn in_ranges(ranges: &[SlotRange], reference_id: &str) -> bool {
    let slot = slot_of(reference_id);
    ranges.iter().any(|r| r.contains(slot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_fnv1a_then_fmix64() {
        // FNV-1a 64 of "" is the offset basis and of "a" is 0xaf63dc4c8601ec8c (published test
        // vectors); fmix64 is applied on top.
        let fmix = |mut h: u64| {
            h ^= h >> 33;
            h = h.wrapping_mul(0xff51afd7ed558ccd);
            h ^= h >> 33;
            h = h.wrapping_mul(0xc4ceb9fe1a85ec53);
            h ^ (h >> 33)
        };
        assert_eq!(routing_hash(b""), fmix(0xcbf29ce484222325));
        assert_eq!(routing_hash(b"a"), fmix(0xaf63dc4c8601ec8c));
        assert_eq!(routing_hash(b"foobar"), fmix(0x85944171f73967e8));
    }

    #[test]
    fn sequential_ids_spread_evenly_over_slots() {
        let n = 409_600u32;
        let mut counts = vec![0u32; SLOT_COUNT as usize];
        for i in 0..n {
            counts[slot_of(&format!("person-{i:08}")) as usize] += 1;
        }
        // 100 expected per slot; chi-square over 4,095 degrees of freedom has mean 4,095 and
        // SD ~90.5: a uniform spread stays well below mean + 6 SD.
        let expected = f64::from(n) / f64::from(SLOT_COUNT);
        let chi2: f64 = counts
            .iter()
            .map(|&c| (f64::from(c) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 4095.0 + 6.0 * 90.5, "chi-square {chi2}");
        assert!(counts.iter().all(|&c| c > 40), "an almost empty slot");
    }

    #[test]
    fn ranges_contain_and_validate() {
        let r = SlotRange { start: 10, end: 20 };
        assert!(r.contains(10) && r.contains(19) && !r.contains(20) && !r.contains(9));
        assert_eq!(r.len(), 10);
        assert!(r.validate().is_ok() && SlotRange::all().validate().is_ok());
        for bad in [(5, 5), (6, 5), (0, SLOT_COUNT + 1)] {
            let r = SlotRange {
                start: bad.0,
                end: bad.1,
            };
            assert!(r.validate().is_err(), "{bad:?}");
        }
        let id = "6f1c2a8e-0000-4000-8000-000000000001";
        let s = slot_of(id);
        assert!(in_ranges(
            &[SlotRange {
                start: s,
                end: s + 1
            }],
            id
        ));
        assert!(!in_ranges(&[SlotRange { start: 0, end: s }], id));
    }
}
