//! Huffman tables (DHT) and canonical code decoding, as in JPEG (ISO/IEC 10918-1 Annex C):
//! sixteen counts of codes per length, then the symbol values in code order.

use crate::bits::{BitReader, Stop};
use crate::error::{Result, WsqError};
use crate::reader::Reader;

/// Table ids a block may name (0..=7).
pub(crate) const MAX_TABLES: usize = 8;
/// The longest code length.
const MAX_CODE_LEN: usize = 16;

/// One canonical Huffman code, ready to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HuffmanTable {
    /// For each code length `l` (index `l - 1`): the first code of that length, the number of
    /// codes of that length, and the index of its first symbol in `values`.
    first_code: [u32; MAX_CODE_LEN],
    count: [u32; MAX_CODE_LEN],
    first_index: [u32; MAX_CODE_LEN],
    values: Vec<u8>,
}

impl HuffmanTable {
    /// Builds the canonical code from the counts per length, refusing counts that overflow
    /// the code space of their length (no prefix code has them).
    fn new(counts: [u8; MAX_CODE_LEN], values: Vec<u8>) -> std::result::Result<Self, &'static str> {
        let mut table = Self {
            first_code: [0; MAX_CODE_LEN],
            count: [0; MAX_CODE_LEN],
            first_index: [0; MAX_CODE_LEN],
            values,
        };
        let mut code: u32 = 0;
        let mut index: u32 = 0;
        for (len0, &n) in counts.iter().enumerate() {
            let n = u32::from(n);
            table.first_code[len0] = code;
            table.count[len0] = n;
            table.first_index[len0] = index;
            code += n;
            index += n;
            if code > 1 << (len0 + 1) {
                return Err("more codes than fit in their length");
            }
            code <<= 1;
        }
        if index == 0 {
            return Err("no codes");
        }
        Ok(table)
    }

    /// Decodes one symbol, reading at most 16 bits.
    pub(crate) fn decode(&self, bits: &mut BitReader<'_>) -> std::result::Result<u8, DecodeStop> {
        let mut code: u32 = 0;
        for len0 in 0..MAX_CODE_LEN {
            code = (code << 1) | bits.bit().map_err(DecodeStop::Stop)?;
            let offset = code.wrapping_sub(self.first_code[len0]);
            if code >= self.first_code[len0] && offset < self.count[len0] {
                let index = (self.first_index[len0] + offset) as usize;
                return Ok(self.values[index]);
            }
        }
        Err(DecodeStop::NoSuchCode)
    }
}

/// Why no symbol came out of [`HuffmanTable::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeStop {
    /// The bits ran into a marker (the bits read so far were padding).
    Stop(Stop),
    /// Sixteen bits matched no code.
    NoSuchCode,
}

/// Parses a DHT segment (one or more tables) into `tables`.
pub(crate) fn parse_tables(
    mut r: Reader<'_>,
    offset: usize,
    tables: &mut [Option<HuffmanTable>; MAX_TABLES],
) -> Result<()> {
    loop {
        let id = r.u8("DHT")?;
        let bad = |reason| WsqError::BadHuffmanTable {
            offset,
            table: id,
            reason,
        };
        let slot = tables
            .get_mut(usize::from(id))
            .ok_or(bad("table id above 7"))?;
        let mut counts = [0u8; MAX_CODE_LEN];
        counts.copy_from_slice(r.bytes(MAX_CODE_LEN, "DHT")?);
        let total: usize = counts.iter().map(|&n| usize::from(n)).sum();
        if total > 256 {
            return Err(bad("more than 256 symbols"));
        }
        let values = r.bytes(total, "DHT")?.to_vec();
        *slot = Some(HuffmanTable::new(counts, values).map_err(bad)?);
        if r.pos() == r.data().len() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(per_len: &[u8]) -> [u8; MAX_CODE_LEN] {
        let mut c = [0; MAX_CODE_LEN];
        c[..per_len.len()].copy_from_slice(per_len);
        c
    }

    #[test]
    fn canonical_codes_decode_in_order() {
        // Lengths 2, 2, 3, 3: codes 00, 01, 100, 101.
        let table = HuffmanTable::new(counts(&[0, 2, 2]), vec![7, 8, 9, 10]).unwrap();
        let data = [0b0001_1001, 0b0100_0000];
        let mut bits = BitReader::new(&data, 0);
        let decoded: Vec<u8> = (0..4).map(|_| table.decode(&mut bits).unwrap()).collect();
        assert_eq!(decoded, [7, 8, 9, 10]);
    }

    #[test]
    fn overfull_code_space_is_refused() {
        assert!(HuffmanTable::new(counts(&[3]), vec![1, 2, 3]).is_err());
        assert!(HuffmanTable::new(counts(&[2]), vec![1, 2]).is_ok());
        assert!(HuffmanTable::new(counts(&[]), vec![]).is_err());
    }

    #[test]
    fn unassigned_code_is_reported() {
        // One code "0" of length 1: the bits 1111... match nothing.
        let table = HuffmanTable::new(counts(&[1]), vec![5]).unwrap();
        let data = [0xFF, 0x00, 0xFF, 0x00];
        let mut bits = BitReader::new(&data, 0);
        assert_eq!(table.decode(&mut bits), Err(DecodeStop::NoSuchCode));
    }
}
