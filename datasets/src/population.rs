//! Synthetic populations of enrolment records and de-dup probes, and the population file format.
//!
//! A [`Population`] turns the calibrated generators of this crate into engine records: person
//! `i` has a left and right iris and a face (each missing for a small, seeded fraction of people,
//! as in real registrations) and, when asked for, up to ten fingers, enrolled under
//! `"<prefix>-<i>"`. Any capture index other than the
//! enrolment's gives a fresh acquisition of the same person: a planted duplicate.
//!
//! Files: `abis generate` writes a population to a file that `abis enroll` reads:
//! ```text
//! "ABISPOP\0" (8 bytes), format version (u32 LE) = 1,
//! then per record: length (u32 LE), the engine's stored record encoding (tagged, CRC-checked)
//! ```

use crate::face::FaceModel;
use crate::finger::FingerModel;
use crate::iris::{Eye as GenEye, IrisModel};
use crate::seed::{rng, Stream};
use abis_engine::record::{
    Eye, FaceTemplate, FingerTemplate, IrisTemplate, Record, ReferenceId, MIN_FINGER_MINUTIAE,
    MIN_IRIS_VALID_FRACTION,
};
use abis_engine::storage::codec;
use anyhow::{bail, Context};
use rand::Rng;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// Fraction of people with no face (e.g. a failed capture).
pub const MISSING_FACE: f64 = 0.01;
/// Fraction of people with one eye missing (eye conditions).
pub const MISSING_EYE: f64 = 0.005;

/// A seeded synthetic population.
#[derive(Clone)]
pub struct Population {
    /// Master seed: every template derives from it.
    pub seed: u64,
    /// Reference id prefix.
    pub prefix: String,
    /// Iris generator.
    pub iris: IrisModel,
    /// Face generator.
    pub face: FaceModel,
    /// Finger generator.
    pub finger: FingerModel,
    /// Fingers per person: ISO positions `1..=fingers` (0 = no fingerprints).
    pub fingers: u8,
}

impl Population {
    /// Daugman 2,048-bit irises and 512-d faces.
    pub fn new(seed: u64) -> Self {
        Self::with_models(
            seed,
            IrisModel::daugman_2048(),
            FaceModel::new(512).expect("512 is a valid dimension"),
        )
    }

    /// A population from given generators (e.g. open-iris 12,800-bit codes, 128-d faces).
    pub fn with_models(seed: u64, iris: IrisModel, face: FaceModel) -> Self {
        Self {
            seed,
            prefix: "person".into(),
            iris,
            face,
            finger: FingerModel::default(),
            fingers: 0,
        }
    }

    /// The same population with `fingers` fingerprints per person (ISO positions 1..=fingers,
    /// at most 10), each a synthetic minutiae set whose captures are distorted, partial
    /// impressions of one master finger.
    pub fn with_fingers(mut self, fingers: u8) -> Self {
        self.fingers = fingers.min(10);
        self
    }

    /// The reference id person `person` is enrolled under.
    pub fn reference_id(&self, person: u64) -> ReferenceId {
        ReferenceId::new(format!("{}-{person}", self.prefix)).expect("generated ids are short")
    }

    /// Person `person`'s enrolment record (capture 0).
    pub fn enrolment(&self, person: u64) -> Record {
        self.capture(person, 0, self.reference_id(person))
    }

    /// Capture `capture` of person `person` under reference id `id`. Capture 0 is the
    /// enrolment; any other is a new acquisition of the same person (a duplicate applicant).
    pub fn capture(&self, person: u64, capture: u64, id: ReferenceId) -> Record {
        let mut r = rng(
            self.seed,
            Stream::named("abis.population.person"),
            &[person],
        );
        let missing_face = r.gen_bool(MISSING_FACE);
        let missing_eye = r.gen_bool(MISSING_EYE).then(|| {
            if r.gen_bool(0.5) {
                Eye::Left
            } else {
                Eye::Right
            }
        });
        let mut record = Record::new(id);
        for (eye, gen_eye) in [(Eye::Left, GenEye::Left), (Eye::Right, GenEye::Right)] {
            if missing_eye == Some(eye) {
                continue;
            }
            let subject = self.iris.subject(self.seed, person, gen_eye);
            let sample = self.iris.capture(&subject, capture);
            // An eye nearly shut (about 1 capture in 8,000 of the occlusion model) is left out,
            // as a registration client retakes it; the engine's quality gate would refuse it.
            let valid: u32 = sample.mask.iter().map(|b| b.count_ones()).sum();
            if f64::from(valid) < MIN_IRIS_VALID_FRACTION * (sample.mask.len() * 8) as f64 {
                continue;
            }
            record.irises.push(IrisTemplate {
                eye,
                code: sample.code,
                mask: sample.mask,
            });
        }
        for position in 1..=self.fingers {
            let master = self.finger.master(self.seed, person, position - 1);
            let minutiae = self.finger.capture(&master, capture as u32);
            // A capture under the quality gate's floor is left out, as a registration client
            // retakes it or records the finger as an exception; the engine would refuse it.
            if minutiae.len() >= MIN_FINGER_MINUTIAE {
                record.fingers.push(FingerTemplate { position, minutiae });
            }
        }
        if !missing_face {
            let subject = self.face.subject(self.seed, person);
            record.face = Some(FaceTemplate {
                embedding: self.face.capture(&subject, capture),
            });
        }
        record
    }
}

const MAGIC: &[u8; 8] = b"ABISPOP\0";
const VERSION: u32 = 1;

/// Writes records to a population file.
pub struct PopulationWriter {
    out: BufWriter<std::fs::File>,
}

impl PopulationWriter {
    /// Creates (truncating) a population file.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        Ok(Self { out })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Record) -> anyhow::Result<()> {
        let bytes = codec::encode(record);
        self.out.write_all(&(bytes.len() as u32).to_le_bytes())?;
        self.out.write_all(&bytes)?;
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok(())
    }
}

/// Reads records from a population file, checking every record's checksum.
pub struct PopulationReader {
    input: BufReader<std::fs::File>,
    index: u64,
}

/// Largest record accepted from a file (a 12,800-bit iris pair, a 4,096-d face and ten fingers
/// fit comfortably).
const MAX_RECORD_BYTES: usize = 1 << 20;

impl PopulationReader {
    /// Opens a population file and checks its header.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut header = [0u8; 12];
        input
            .read_exact(&mut header)
            .with_context(|| format!("{} is too short to be a population file", path.display()))?;
        if &header[..8] != MAGIC {
            bail!(
                "{} is not an abis population file (bad magic)",
                path.display()
            );
        }
        let version = u32::from_le_bytes(header[8..12].try_into()?);
        if version != VERSION {
            bail!(
                "{}: population format version {version}, this build reads {VERSION}",
                path.display()
            );
        }
        Ok(Self { input, index: 0 })
    }
}

impl Iterator for PopulationReader {
    type Item = anyhow::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.input.fill_buf() {
            Ok([]) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(e.into())),
        }
        let index = self.index;
        self.index += 1;
        let mut read = || -> anyhow::Result<Record> {
            let mut len = [0u8; 4];
            self.input
                .read_exact(&mut len)
                .context("truncated length")?;
            let len = u32::from_le_bytes(len) as usize;
            if len > MAX_RECORD_BYTES {
                bail!("length {len} exceeds {MAX_RECORD_BYTES}");
            }
            let mut bytes = vec![0u8; len];
            self.input
                .read_exact(&mut bytes)
                .context("truncated record")?;
            Ok(codec::decode(&bytes)?)
        };
        Some(read().with_context(|| format!("population record {index}")))
    }
}
