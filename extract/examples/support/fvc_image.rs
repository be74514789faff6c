//! Reading FVC TIFFs for the examples and tests (the library takes pixels; image decoding
//! belongs elsewhere). Shared by `#[path]` so there is one copy.

use std::path::Path;

/// An uncompressed 8-bit greyscale TIFF (the FVC format) as (width, height, pixels).
pub fn read_grey_tiff(path: &Path) -> Result<(usize, usize, Vec<u8>), String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    let mut decoder =
        tiff::decoder::Decoder::new(std::io::BufReader::new(file)).map_err(|e| fail(&e))?;
    let colour = decoder.colortype().map_err(|e| fail(&e))?;
    if colour != tiff::ColorType::Gray(8) {
        return Err(fail(&format!("{colour:?}, expected 8-bit greyscale")));
    }
    let (w, h) = decoder.dimensions().map_err(|e| fail(&e))?;
    match decoder.read_image().map_err(|e| fail(&e))? {
        tiff::decoder::DecodingResult::U8(pixels) => Ok((w as usize, h as usize, pixels)),
        _ => Err(fail(&"not 8-bit")),
    }
}

/// The scanning resolution of an FVC2002 database, by folder name (DB2: 569 ppi).
#[allow(dead_code)] // not every includer needs it
pub fn fvc2002_ppi(db: &str) -> f64 {
    if db.starts_with("DB2") {
        569.0
    } else {
        500.0
    }
}
