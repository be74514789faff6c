//! Conformance tests run against every column backend, and segment damage detection.

use super::column::{ColumnWrite, MemColumn, ALIGN};
use super::mmap::{MmapColumn, HEADER};
use super::segment::{segment_files, Backend, RowLayout, Segment, SegmentSpec};
use crate::error::EngineError;

fn conformance(mut col: Box<dyn ColumnWrite>) {
    let w = col.row_bytes();
    assert_eq!(col.len(), 0);
    assert!(col.is_empty());
    // Enough rows to force several growths of either backend.
    let n = 3000;
    for i in 0..n {
        let row: Vec<u8> = (0..w).map(|j| (i * 31 + j) as u8).collect();
        col.append(&row).unwrap();
    }
    // A multi-row append.
    let two: Vec<u8> = (0..2 * w).map(|j| j as u8 ^ 0x5a).collect();
    col.append(&two).unwrap();
    assert_eq!(col.len(), n + 2);
    assert_eq!(col.rows().len(), (n + 2) * w);
    for i in [0, 1, 777, n - 1] {
        let expect: Vec<u8> = (0..w).map(|j| (i * 31 + j) as u8).collect();
        assert_eq!(col.row(i), &expect[..], "row {i}");
    }
    assert_eq!(col.row(n + 1), &two[w..]);
    // Filling a row in place changes that row only.
    col.row_mut(777).fill(0xAB);
    assert_eq!(col.row(777), &vec![0xAB; w][..]);
    assert_eq!(col.row(778)[0], (778 * 31) as u8);
    if w.is_multiple_of(ALIGN) {
        for i in [0, 1, n] {
            assert_eq!(
                col.row(i).as_ptr() as usize % ALIGN,
                0,
                "row {i} is 64-byte aligned"
            );
        }
    }
    col.flush().unwrap();
}

#[test]
fn memory_backend_conforms() {
    for w in [16, 64, 512, 100] {
        conformance(Box::new(MemColumn::new(w)));
    }
}

#[test]
fn mmap_backend_conforms_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    for w in [16, 64, 512, 100] {
        let path = dir.path().join(format!("c{w}"));
        conformance(Box::new(MmapColumn::create(&path, w, 7).unwrap()));
        let reopened = MmapColumn::open(&path, w, 7).unwrap();
        assert_eq!(super::ColumnRead::len(&reopened), 3002);
        assert_eq!(super::ColumnRead::row(&reopened, 777), &vec![0xAB; w][..]);
    }
}

#[test]
fn mmap_open_rejects_wrong_shape_bad_header_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c");
    let mut c = MmapColumn::create(&path, 64, 1).unwrap();
    c.append(&[9u8; 64 * 10]).unwrap();
    drop(c);
    let corrupt =
        |r: Result<MmapColumn, EngineError>| matches!(r, Err(EngineError::DataCorruption { .. }));
    assert!(
        corrupt(MmapColumn::open(&path, 128, 1)),
        "row width mismatch"
    );
    assert!(corrupt(MmapColumn::open(&path, 64, 2)), "kind mismatch");

    let mut bytes = std::fs::read(&path).unwrap();
    bytes[17] ^= 1; // row count
    std::fs::write(&path, &bytes).unwrap();
    assert!(corrupt(MmapColumn::open(&path, 64, 1)), "header checksum");

    bytes[17] ^= 1;
    bytes.truncate(HEADER + 64 * 5);
    std::fs::write(&path, &bytes).unwrap();
    assert!(corrupt(MmapColumn::open(&path, 64, 1)), "truncated");

    std::fs::write(&path, b"short").unwrap();
    assert!(
        corrupt(MmapColumn::open(&path, 64, 1)),
        "shorter than a header"
    );
}

fn spec() -> SegmentSpec {
    SegmentSpec {
        name: "test".into(),
        columns: vec![64, 8],
        layout: RowLayout::Rows,
        kind: 42,
    }
}

fn filled(backend: &Backend) -> Segment {
    let mut seg = Segment::create(backend, &spec(), false).unwrap();
    for slot in [2u32, 5, 9] {
        seg.append(slot, slot as f32 / 2.0, &[&[slot as u8; 64], &[1u8; 8]])
            .unwrap();
    }
    seg.flush().unwrap();
    seg
}

#[test]
fn segment_maps_slots_and_reopens_verified() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Mmap(dir.path().to_path_buf());
    drop(filled(&backend));
    let seg = Segment::open(&backend, &spec()).unwrap();
    assert_eq!(seg.len(), 3);
    assert_eq!(seg.row_of(5), Some(1));
    assert_eq!(seg.row_of(4), None);
    assert_eq!(seg.row_of(1000), None);
    assert_eq!(seg.last_slot(), Some(9));
    assert_eq!(seg.meta(2).aux, 4.5);
    assert_eq!(seg.column(0).row(1), &[5u8; 64][..]);

    let mem = filled(&Backend::Memory);
    assert_eq!(mem.row_of(9), Some(2));
    assert!(Segment::open(&Backend::Memory, &spec()).unwrap().is_empty());
}

#[test]
fn segment_detects_a_flipped_byte_and_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Mmap(dir.path().to_path_buf());
    drop(filled(&backend));
    let files = segment_files(dir.path(), &spec());
    let mut bytes = std::fs::read(&files[1]).unwrap();
    bytes[HEADER + 8 + 3] ^= 0x80; // row 1 of column 1
    std::fs::write(&files[1], &bytes).unwrap();
    assert!(matches!(
        Segment::open(&backend, &spec()),
        Err(EngineError::DataCorruption { .. })
    ));

    std::fs::remove_file(&files[0]).unwrap();
    assert!(matches!(
        Segment::open(&backend, &spec()),
        Err(EngineError::DataCorruption { .. })
    ));
}

fn interleaved_spec() -> SegmentSpec {
    SegmentSpec {
        name: "blocks".into(),
        columns: vec![64],
        layout: RowLayout::Interleaved,
        kind: 43,
    }
}

/// Record `slot`'s 64-byte row: every byte differs between records and within a row.
fn record_row(slot: u32) -> Vec<u8> {
    (0..64)
        .map(|i| (slot as u8).wrapping_mul(31).wrapping_add(i))
        .collect()
}

#[test]
fn interleaved_segment_fills_blocks_and_reopens_verified() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Mmap(dir.path().to_path_buf());
    let slots: Vec<u32> = (0..11).map(|i| 3 * i + 1).collect();
    for b in [&backend, &Backend::Memory] {
        let mut seg = Segment::create(b, &interleaved_spec(), false).unwrap();
        for &slot in &slots {
            seg.append(slot, 0.0, &[&record_row(slot)]).unwrap();
        }
        seg.flush().unwrap();
        // 11 records: two blocks of eight, the second one partly filled.
        assert_eq!(seg.len(), 11);
        assert_eq!(seg.column(0).len(), 2);
        assert_eq!(seg.column(0).row_bytes(), 8 * 64);
        for (i, &slot) in slots.iter().enumerate() {
            assert_eq!(seg.row(0, i).as_ref(), &record_row(slot)[..]);
            assert_eq!(seg.row_of(slot), Some(i));
        }
        // Record 10 is lane 2 of block 1: its word 0 is the third word of the block's first
        // line, its word 1 the third of the second line.
        let blocks = seg.column(0).rows();
        assert_eq!(&blocks[512 + 2 * 8..][..8], &record_row(slots[10])[..8]);
        assert_eq!(
            &blocks[512 + 64 + 2 * 8..][..8],
            &record_row(slots[10])[8..16]
        );
    }
    let seg = Segment::open(&backend, &interleaved_spec()).unwrap();
    assert_eq!(seg.len(), 11);
    assert_eq!(seg.row(0, 10).as_ref(), &record_row(slots[10])[..]);
}

#[test]
fn interleaved_segment_detects_damage_and_ignores_an_unacknowledged_lane() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Mmap(dir.path().to_path_buf());
    let mut seg = Segment::create(&backend, &interleaved_spec(), false).unwrap();
    for slot in 0..9 {
        seg.append(slot, 0.0, &[&record_row(slot)]).unwrap();
    }
    seg.flush().unwrap();
    drop(seg);
    let files = segment_files(dir.path(), &interleaved_spec());

    // A crash after filling lane 1 of block 1 but before its metadata: the lane is not a
    // record, the segment opens clean, and the next append overwrites the lane.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    for k in 0..8 {
        bytes[HEADER + 512 + (8 * k + 1) * 8] = 0xEE;
    }
    std::fs::write(&files[0], &bytes).unwrap();
    let mut seg = Segment::open(&backend, &interleaved_spec()).unwrap();
    assert_eq!(seg.len(), 9);
    seg.append(100, 0.0, &[&record_row(100)]).unwrap();
    seg.flush().unwrap();
    drop(seg);
    let seg = Segment::open(&backend, &interleaved_spec()).unwrap();
    assert_eq!(seg.row(0, 9).as_ref(), &record_row(100)[..]);
    drop(seg);

    // A flipped bit inside a record's lane fails that record's checksum.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[HEADER + (8 * 5 + 6) * 8 + 2] ^= 0x10; // word 5 of record 6
    std::fs::write(&files[0], &bytes).unwrap();
    assert!(matches!(
        Segment::open(&backend, &interleaved_spec()),
        Err(EngineError::DataCorruption { .. })
    ));
}
