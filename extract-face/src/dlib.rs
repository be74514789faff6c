//! A bounds-checked reader of dlib's serialisation format (`dlib/serialize.h` and the `dnn`
//! tensors), the format of dlib's model files (`.dat`).
//!
//! The encodings, as dlib writes them:
//! - **Integers** (any width, signed or not): a control byte whose low four bits are the number
//!   of value bytes that follow (at most 8) and whose bit 7 marks a negative value, then the
//!   magnitude in little-endian order. dlib writes at least one value byte (zero is `01 00`).
//! - **`float`/`double`**: the portable pair (64-bit integer mantissa, 16-bit integer exponent),
//!   value `mantissa * 2^exponent`, both written as integers above; exponents 32000, 32001 and
//!   32002 stand for +inf, -inf and NaN.
//! - **`bool`**: one character, `'1'` or `'0'`. **`char`**: one raw byte.
//! - **`std::string`**: the length as an integer, then the bytes.
//! - **`std::vector<T>`**: the length as an integer, then the items.
//! - **`dlib::matrix`**: rows and columns as integers, negated in the current format (an older
//!   format wrote columns first, positive), then the elements row by row.
//! - **`resizable_tensor`**: a version, then `num_samples`, `k`, `nr`, `nc`; version 2 stores the
//!   elements as raw little-endian IEEE `f32`, version 1 as portable floats.
//! - **`alias_tensor`** (a view into a layer's parameters): version 1 and the four dimensions.
//!
//! Every read checks that the bytes are there, and every length or shape read from the file is
//! checked against what is left before anything is allocated, so a truncated or hostile file is
//! refused with [`FaceError::DataCorruption`] naming the byte offset, never a panic or a huge
//! allocation.

use crate::{FaceError, Result};

/// Exponent code of +infinity in dlib's portable float encoding.
const EXPONENT_INF: i64 = 32000;
/// Exponent code of -infinity.
const EXPONENT_NEG_INF: i64 = 32001;
/// Exponent code of NaN.
const EXPONENT_NAN: i64 = 32002;

/// A cursor over the bytes of a dlib-serialised object.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// A dense `f32` tensor as dlib stores it: `num_samples x k x nr x nc`, row-major (the last
/// dimension varies fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions `[num_samples, k, nr, nc]`.
    pub shape: [usize; 4],
    /// The elements, `shape` multiplied out of them.
    pub data: Vec<f32>,
}

/// A dense `f32` matrix, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// The elements, row by row.
    pub data: Vec<f32>,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Byte offset of the next read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Whether every byte has been read.
    pub fn is_at_end(&self) -> bool {
        self.remaining() == 0
    }

    /// A [`FaceError::DataCorruption`] at the current position.
    pub fn error(&self, reason: impl Into<String>) -> FaceError {
        FaceError::DataCorruption {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    /// The next `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(format!(
                "{n} bytes needed, {} left (truncated file)",
                self.remaining()
            )));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// One raw byte (dlib's `char`, `signed char`, `unsigned char`).
    pub fn byte(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    /// An integer of any width.
    pub fn int(&mut self) -> Result<i64> {
        let start = self.pos;
        self.int_at().map_err(|reason| {
            self.pos = start;
            self.error(reason)
        })
    }

    /// [`Reader::int`] with the reason of a failure, the cursor left wherever it stopped.
    fn int_at(&mut self) -> std::result::Result<i64, String> {
        let left = self.remaining();
        let control = self
            .byte()
            .map_err(|_| "integer missing (truncated file)")?;
        let size = usize::from(control & 0x0f);
        if control & 0x70 != 0 || size > 8 {
            return Err(format!("invalid integer control byte {control:#04x}"));
        }
        let body = self.bytes(size).map_err(|_| {
            format!(
                "integer of {size} bytes, {} left (truncated file)",
                left - 1
            )
        })?;
        let magnitude = body
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        match (control & 0x80 != 0, i64::try_from(magnitude)) {
            (false, Ok(v)) => Ok(v),
            (true, Ok(v)) => Ok(-v),
            (true, Err(_)) if magnitude == 1 << 63 => Ok(i64::MIN),
            _ => Err("integer out of range".into()),
        }
    }

    /// An integer that must lie in `min..=max` (`what` names it in the error).
    pub fn int_in(&mut self, what: &str, min: i64, max: i64) -> Result<i64> {
        let start = self.pos;
        let v = self.int()?;
        if v < min || v > max {
            self.pos = start;
            return Err(self.error(format!("{what} is {v}, expected {min}..={max}")));
        }
        Ok(v)
    }

    /// An integer that must equal `expected` (a version number, a fixed size).
    pub fn expect_int(&mut self, what: &str, expected: i64) -> Result<()> {
        self.int_in(what, expected, expected).map(|_| ())
    }

    /// A length or count in `0..=max`, checked before the caller allocates anything for it.
    pub fn len(&mut self, max: usize) -> Result<usize> {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let v = self.int_in("length", 0, max)?;
        // In range 0..=max, which came from a usize.
        Ok(v as usize)
    }

    /// A `bool` (`'1'` or `'0'`).
    pub fn bool(&mut self) -> Result<bool> {
        match self.byte()? {
            b'1' => Ok(true),
            b'0' => Ok(false),
            other => {
                self.pos -= 1;
                Err(self.error(format!("invalid bool byte {other:#04x}")))
            }
        }
    }

    /// The raw (mantissa, exponent) pair of a portable float, the exponent checked to fit 16
    /// bits.
    fn float_parts(&mut self) -> Result<(i64, i64)> {
        let mantissa = self.int()?;
        let exponent = self.int_in("float exponent", i16::MIN.into(), i16::MAX.into())?;
        Ok((mantissa, exponent))
    }

    /// A `double` in dlib's portable encoding.
    pub fn f64(&mut self) -> Result<f64> {
        let (mantissa, exponent) = self.float_parts()?;
        Ok(match exponent {
            EXPONENT_INF => f64::INFINITY,
            EXPONENT_NEG_INF => f64::NEG_INFINITY,
            EXPONENT_NAN => f64::NAN,
            e => ldexp(mantissa as f64, e),
        })
    }

    /// A `float` in dlib's portable encoding, rounded as dlib rounds it (the mantissa to `f32`
    /// first, then scaled).
    pub fn f32(&mut self) -> Result<f32> {
        let (mantissa, exponent) = self.float_parts()?;
        Ok(match exponent {
            EXPONENT_INF => f32::INFINITY,
            EXPONENT_NEG_INF => f32::NEG_INFINITY,
            EXPONENT_NAN => f32::NAN,
            // A power-of-two scaling of an f32 value is exact in f64; the one rounding happens
            // in the final cast, as in C's ldexpf.
            e => ldexp(f64::from(mantissa as f32), e) as f32,
        })
    }

    /// A `std::string`; dlib's layer tags are ASCII, so anything not UTF-8 is refused.
    pub fn string(&mut self) -> Result<&'a str> {
        let start = self.pos;
        let n = self.len(self.remaining())?;
        let raw = self.bytes(n)?;
        std::str::from_utf8(raw).map_err(|_| {
            self.pos = start;
            self.error("string is not UTF-8")
        })
    }

    /// A string that must equal `tag` (a layer or object name written by dlib).
    pub fn expect_str(&mut self, tag: &str) -> Result<()> {
        let start = self.pos;
        let found = self.string()?;
        if found != tag {
            self.pos = start;
            return Err(self.error(format!("expected {tag:?}, found {found:?}")));
        }
        Ok(())
    }

    /// A `std::vector`: the length (at most `max`, and at most one item per byte left) and the
    /// items, each read by `item`.
    pub fn vec<T>(
        &mut self,
        max: usize,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let n = self.len(max.min(self.remaining()))?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// A `dlib::matrix<float>` (either serialisation format), elements in portable floats.
    pub fn matrix_f32(&mut self) -> Result<Matrix> {
        let start = self.pos;
        let a = self.int()?;
        let b = self.int()?;
        let (rows, cols) = if a < 0 || b < 0 {
            (a.checked_neg(), b.checked_neg())
        } else {
            // The older format: columns first.
            (Some(b), Some(a))
        };
        let dims = rows.zip(cols).and_then(|(r, c)| {
            let (r, c) = (usize::try_from(r).ok()?, usize::try_from(c).ok()?);
            Some((r, c, r.checked_mul(c)?))
        });
        // Each element takes at least two bytes (mantissa and exponent, one byte each).
        let Some((rows, cols, n)) = dims.filter(|&(_, _, n)| n <= self.remaining() / 2) else {
            self.pos = start;
            return Err(self.error(format!(
                "matrix of {a} x {b} does not fit the {} bytes left",
                self.remaining()
            )));
        };
        let mut data = Vec::with_capacity(n);
        for _ in 0..n {
            data.push(self.f32()?);
        }
        Ok(Matrix { rows, cols, data })
    }

    /// Four tensor dimensions, each non-negative, and their product.
    fn dims(&mut self) -> Result<([usize; 4], usize)> {
        let start = self.pos;
        let mut shape = [0usize; 4];
        for d in &mut shape {
            *d = self.len(usize::MAX)?;
        }
        match shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) {
            Some(n) => Ok((shape, n)),
            None => {
                self.pos = start;
                Err(self.error(format!("tensor shape {shape:?} overflows")))
            }
        }
    }

    /// A `resizable_tensor` (version 1 or 2).
    pub fn tensor(&mut self) -> Result<Tensor> {
        let version = self.int_in("tensor version", 1, 2)?;
        let start = self.pos;
        let (shape, n) = self.dims()?;
        let bytes_per_item = if version == 2 { 4 } else { 2 };
        if n > self.remaining() / bytes_per_item {
            self.pos = start;
            return Err(self.error(format!(
                "tensor of shape {shape:?} does not fit the {} bytes left (truncated file)",
                self.remaining()
            )));
        }
        let data: Vec<f32> = if version == 2 {
            self.bytes(n * 4)?
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            let mut data = Vec::with_capacity(n);
            for _ in 0..n {
                data.push(self.f32()?);
            }
            data
        };
        Ok(Tensor { shape, data })
    }

    /// An `alias_tensor`: its shape only (the data lives in the owning layer's parameters).
    pub fn alias_tensor(&mut self) -> Result<[usize; 4]> {
        self.expect_int("alias_tensor version", 1)?;
        Ok(self.dims()?.0)
    }
}

/// `x * 2^e` without overflowing the intermediate power for exponents beyond f64's range.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    const STEP: i64 = 1000;
    while e > STEP {
        x *= 2f64.powi(STEP as i32);
        e -= STEP;
    }
    while e < -STEP {
        x *= 2f64.powi(-STEP as i32);
        e += STEP;
    }
    x * 2f64.powi(e as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dlib's integer encoding, written here from the format's description.
    fn int_bytes(v: i64) -> Vec<u8> {
        let mut mag = v.unsigned_abs();
        let mut body = vec![];
        loop {
            body.push((mag & 0xff) as u8);
            mag >>= 8;
            if mag == 0 {
                break;
            }
        }
        let mut out = vec![body.len() as u8 | if v < 0 { 0x80 } else { 0 }];
        out.extend(body);
        out
    }

    fn float_bytes(mantissa: i64, exponent: i64) -> Vec<u8> {
        [int_bytes(mantissa), int_bytes(exponent)].concat()
    }

    #[test]
    fn integers_round_trip_across_widths_and_signs() {
        for v in [
            0,
            1,
            -1,
            127,
            128,
            255,
            256,
            -4736,
            65535,
            1 << 40,
            i64::MAX,
            i64::MIN + 1,
            i64::MIN,
        ] {
            let b = int_bytes(v);
            let mut r = Reader::new(&b);
            assert_eq!(r.int().unwrap(), v, "{v}");
            assert!(r.is_at_end());
        }
        // Bytes seen in dlib's files: 4736 and -28.
        assert_eq!(Reader::new(&[0x02, 0x80, 0x12]).int().unwrap(), 4736);
        assert_eq!(Reader::new(&[0x81, 0x1c]).int().unwrap(), -28);
    }

    #[test]
    fn bad_integers_are_refused_at_their_offset() {
        // Nine value bytes, reserved bits set, truncated body, magnitude beyond i64.
        for bad in [
            &[0x09u8, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0x11, 0],
            &[0x04, 1, 2],
            &[0x08, 0, 0, 0, 0, 0, 0, 0, 0x80],
            &[0x88, 1, 0, 0, 0, 0, 0, 0, 0x80],
            &[],
        ] {
            let err = Reader::new(bad).int().unwrap_err();
            assert!(
                matches!(err, FaceError::DataCorruption { offset: 0, .. }),
                "{bad:?}: {err}"
            );
        }
        let mut r = Reader::new(&[0x01, 0x05]);
        assert!(r.int_in("k", 0, 4).is_err());
        assert_eq!(r.position(), 0, "a refused value leaves the cursor on it");
        assert_eq!(r.len(5).unwrap(), 5);
    }

    #[test]
    fn portable_floats_decode_like_dlib() {
        // 0.04f and 0.6f as dlib wrote them in a model file.
        let mut r = Reader::new(&[0x03, 0x0a, 0xd7, 0xa3, 0x81, 0x1c]);
        assert_eq!(r.f32().unwrap(), 0.04f32);
        let mut r = Reader::new(&[0x03, 0x9a, 0x99, 0x99, 0x81, 0x18]);
        assert_eq!(r.f32().unwrap(), 0.6f32);
        let cases: [(i64, i64, f64); 5] = [
            (1, 0, 1.0),
            (-3, -1, -1.5),
            (0, 0, 0.0),
            (1, 1023, 2f64.powi(1023)),
            (1 << 52, -1074 - 52, f64::from_bits(1)),
        ];
        for (m, e, want) in cases {
            let b = float_bytes(m, e);
            assert_eq!(Reader::new(&b).f64().unwrap(), want, "{m} * 2^{e}");
        }
        assert_eq!(
            Reader::new(&float_bytes(0, EXPONENT_INF)).f64().unwrap(),
            f64::INFINITY
        );
        assert_eq!(
            Reader::new(&float_bytes(0, EXPONENT_NEG_INF))
                .f32()
                .unwrap(),
            f32::NEG_INFINITY
        );
        assert!(Reader::new(&float_bytes(0, EXPONENT_NAN))
            .f32()
            .unwrap()
            .is_nan());
        // An exponent beyond 16 bits is not dlib's.
        assert!(Reader::new(&float_bytes(1, 40000)).f64().is_err());
    }

    #[test]
    fn strings_bools_and_vectors() {
        let mut b = int_bytes(4);
        b.extend(b"con_");
        b.extend(b"10");
        b.extend(int_bytes(3));
        for v in [7, -8, 9] {
            b.extend(int_bytes(v));
        }
        let mut r = Reader::new(&b);
        assert!(r.clone().expect_str("relu_").is_err());
        r.expect_str("con_").unwrap();
        assert!(r.bool().unwrap());
        assert!(!r.bool().unwrap());
        assert_eq!(r.vec(10, Reader::int).unwrap(), vec![7, -8, 9]);
        assert!(r.is_at_end());
        // A vector longer than its bound, or than the bytes left, is refused before allocating.
        let mut big = int_bytes(1 << 40);
        big.push(0);
        assert!(Reader::new(&big).vec(usize::MAX, Reader::int).is_err());
        assert!(Reader::new(&int_bytes(3)).vec(2, Reader::int).is_err());
        assert!(Reader::new(b"2").bool().is_err());
        assert!(Reader::new(&[0x01, 0x09, b'a']).string().is_err());
    }

    #[test]
    fn matrices_in_both_formats() {
        // Newer format: -rows, -cols, then row-major elements.
        let mut b = [int_bytes(-2), int_bytes(-3)].concat();
        for i in 1..=6 {
            b.extend(float_bytes(i, 0));
        }
        let m = Reader::new(&b).matrix_f32().unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Older format: cols, rows.
        let mut b = [int_bytes(3), int_bytes(2)].concat();
        for i in 1..=6 {
            b.extend(float_bytes(i, 0));
        }
        let m = Reader::new(&b).matrix_f32().unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        // A shape too large for the bytes left, or overflowing, is refused.
        let b = [int_bytes(-1_000_000), int_bytes(-1_000_000)].concat();
        assert!(Reader::new(&b).matrix_f32().is_err());
        let b = [int_bytes(i64::MIN + 1), int_bytes(-2)].concat();
        assert!(Reader::new(&b).matrix_f32().is_err());
    }

    #[test]
    fn tensors_in_both_versions_and_alias_shapes() {
        let mut b = int_bytes(2);
        for d in [2, 1, 1, 2] {
            b.extend(int_bytes(d));
        }
        for v in [1.5f32, -2.0, 0.25, 8.0] {
            b.extend(v.to_le_bytes());
        }
        let t = Reader::new(&b).tensor().unwrap();
        assert_eq!(t.shape, [2, 1, 1, 2]);
        assert_eq!(t.data, vec![1.5, -2.0, 0.25, 8.0]);
        // Truncated by one byte.
        let err = Reader::new(&b[..b.len() - 1]).tensor().unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");

        let mut b = int_bytes(1);
        for d in [1, 1, 1, 2] {
            b.extend(int_bytes(d));
        }
        b.extend(float_bytes(3, -1));
        b.extend(float_bytes(-1, 2));
        assert_eq!(Reader::new(&b).tensor().unwrap().data, vec![1.5, -4.0]);

        let mut b = int_bytes(3);
        b.extend([0x01, 0x00].repeat(4));
        assert!(Reader::new(&b).tensor().is_err(), "version 3 is unknown");
        let mut b = int_bytes(2);
        for d in [1i64 << 20, 1 << 20, 1 << 20, 1 << 20] {
            b.extend(int_bytes(d));
        }
        assert!(Reader::new(&b).tensor().is_err(), "overflowing shape");

        let mut b = int_bytes(1);
        for d in [32, 3, 7, 7] {
            b.extend(int_bytes(d));
        }
        assert_eq!(Reader::new(&b).alias_tensor().unwrap(), [32, 3, 7, 7]);
    }
}
