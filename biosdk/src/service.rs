//! The operations, on decoded request bodies: synchronous CPU work (the server runs it on
//! tokio's blocking pool). Each returns MOSIP's `Response<T>` as an [`Outcome`] and a one-line
//! summary for the audit log (counts and decisions, never biometric data).

use crate::models::Models;
use crate::record::{self, Content, Modality, Segment};
use crate::wire::{Failure, Outcome, Status};
use abis_engine::{Calibration, EngineError, GalleryConfig, Record, SearchConfig};
use abis_mosip::person;
use abis_mosip::request::FailureReason;
use abis_proto::{Extracted, ImageExtractor, ImageRefusal};
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The operations, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `/init`.
    Init,
    /// `/check-quality`.
    CheckQuality,
    /// `/match`.
    Match,
    /// `/extract-template`.
    ExtractTemplate,
    /// `/convert-format`.
    ConvertFormat,
    /// `/segment`.
    Segment,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 6] = [
        Operation::Init,
        Operation::CheckQuality,
        Operation::Match,
        Operation::ExtractTemplate,
        Operation::ConvertFormat,
        Operation::Segment,
    ];

    /// Its path.
    pub fn path(self) -> &'static str {
        match self {
            Operation::Init => "/init",
            Operation::CheckQuality => "/check-quality",
            Operation::Match => "/match",
            Operation::ExtractTemplate => "/extract-template",
            Operation::ConvertFormat => "/convert-format",
            Operation::Segment => "/segment",
        }
    }

    /// Whether it reads a person's biometrics (audited).
    pub fn touches_person(self) -> bool {
        self != Operation::Init
    }
}

/// The decision policy: the FMR decisions are taken at, and the range a request may ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Default target FMR.
    pub fmr: f64,
    /// The least FMR a request's `targetFMR` flag may ask for.
    pub min_fmr: f64,
    /// The greatest.
    pub max_fmr: f64,
    /// Most gallery records per match.
    pub max_gallery: usize,
}

impl Default for Policy {
    /// FMR 1e-4 (one false accept in 10,000 impostor attempts, the usual operating point of
    /// biometric authentication), requests between 1e-8 and 1e-2, galleries of at most 64.
    fn default() -> Self {
        Self {
            fmr: 1e-4,
            min_fmr: 1e-8,
            max_fmr: 1e-2,
            max_gallery: 64,
        }
    }
}

/// The service: extractors, the template shape and calibration abis uses for images, and the
/// policy.
pub struct Service {
    models: Models,
    shape: GalleryConfig,
    search: SearchConfig,
    calibration: Calibration,
    policy: Policy,
}

/// What an operation answers, and its audit summary.
pub struct Answer {
    /// MOSIP's `Response<T>`.
    pub outcome: Outcome,
    /// For the audit log.
    pub summary: String,
}

impl Service {
    /// A service on `models` deciding by `policy`.
    pub fn new(models: Models, policy: Policy) -> Self {
        let shape = GalleryConfig::IMAGES;
        Self {
            models,
            shape,
            search: SearchConfig::default(),
            calibration: Calibration::for_gallery(&shape),
            policy,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Runs `op` on a decoded body.
    pub fn run(&self, op: Operation, body: &Value) -> Answer {
        let result = match op {
            Operation::Init => Ok((self.init(), "init".to_owned())),
            Operation::CheckQuality => self.check_quality(body),
            Operation::Match => self.match_(body),
            Operation::ExtractTemplate => self.extract_template(body),
            Operation::ConvertFormat => self.convert_format(body),
            Operation::Segment => Err(Failure::invalid(
                "segment is not supported: abis takes one image per finger, iris and face and \
                 does not cut slap or two-eye images into segments",
            )),
        };
        match result {
            Ok((value, summary)) => Answer {
                outcome: Ok(value),
                summary,
            },
            Err(f) => Answer {
                summary: f.to_string(),
                outcome: Err(f),
            },
        }
    }

    /// MOSIP's `SDKInfo`.
    pub fn init(&self) -> Value {
        let names = |ms: &[Modality]| ms.iter().map(|m| m.name()).collect::<Vec<_>>();
        let available = self.models.available();
        json!({
            "apiVersion": "0.9",
            "sdkVersion": env!("CARGO_PKG_VERSION"),
            "supportedModalities": names(&Modality::ALL),
            "supportedMethods": {
                "MATCH": names(&available),
                "EXTRACT": names(&available),
                "QUALITY_CHECK": names(&available),
                "CONVERT_FORMAT": ["FINGER", "IRIS"],
            },
            "otherInfo": {
                "targetFMR": self.policy.fmr.to_string(),
                "targetFMRRange": format!("{:e}..{:e}", self.policy.min_fmr, self.policy.max_fmr),
                "templateFormats": format!(
                    "{}: {}, {}, {}",
                    record::FORMAT_OWNER,
                    record::FINGER_FORMAT,
                    record::IRIS_FORMAT,
                    record::FACE_FORMAT
                ),
            },
            "productOwner": {"organization": "abis", "type": "abis-biosdk"},
        })
    }

    /// The FMR of a request: its `targetFMR` flag within the policy's range, else the default.
    fn fmr(&self, body: &Value) -> Result<f64, Failure> {
        let Some(Value::Object(flags)) = body.get("flags") else {
            return Ok(self.policy.fmr);
        };
        let Some((_, value)) = flags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("targetFMR"))
        else {
            return Ok(self.policy.fmr);
        };
        let fmr = match value {
            Value::String(s) => s.trim().parse::<f64>().ok(),
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
        .ok_or_else(|| Failure::invalid("flags.targetFMR is not a number"))?;
        if !(self.policy.min_fmr..=self.policy.max_fmr).contains(&fmr) {
            return Err(Failure::invalid(format!(
                "flags.targetFMR {fmr:e} outside {:e}..{:e}",
                self.policy.min_fmr, self.policy.max_fmr
            )));
        }
        Ok(fmr)
    }

    /// The record of `segments`' `modality` (`None` when no segment of it holds data).
    fn person(
        &self,
        segments: &[Segment],
        modality: Modality,
        id: &str,
    ) -> Result<Option<Record>, Failure> {
        let of: Vec<&Segment> = segments
            .iter()
            .filter(|s| s.modality == Some(modality) && !s.skipped)
            .collect();
        if of.is_empty() {
            return Ok(None);
        }
        let mut merged = record::templates(&of, id, &self.shape)?;
        let samples: Vec<_> = of
            .iter()
            .filter(|s| s.content == Content::Image)
            .filter_map(|s| s.sample())
            .collect();
        if !samples.is_empty() {
            let extractor: &dyn ImageExtractor = &self.models;
            let has_templates =
                !merged.fingers.is_empty() || !merged.irises.is_empty() || merged.face.is_some();
            let p = match person::from_samples(&samples, id, &self.shape, extractor) {
                Ok(p) => p,
                // No usable image beside usable templates (a record from /extract-template
                // keeps the images it refused): the templates are the record.
                Err(e) if e.reason == FailureReason::QualityCheckFailed && has_templates => {
                    tracing::debug!("{id}: images left out: {}", e.detail);
                    merged
                        .validate_and_normalise(&self.shape)
                        .map_err(|e| Failure::invalid(e.to_string()))?;
                    return Ok(Some(merged));
                }
                Err(e) => {
                    let status = match e.reason {
                        FailureReason::QualityCheckFailed => Status::QualityCheckFailed,
                        FailureReason::Internal => Status::UnknownError,
                        _ => Status::InvalidInput,
                    };
                    return Err(Failure::new(status, e.detail));
                }
            };
            merged.fingers.extend(p.record.fingers);
            merged.irises.extend(p.record.irises);
            if p.record.face.is_some() {
                if merged.face.is_some() {
                    return Err(Failure::invalid("face is given twice"));
                }
                merged.face = p.record.face;
            }
        }
        merged
            .validate_and_normalise(&self.shape)
            .map_err(|e| Failure::invalid(e.to_string()))?;
        Ok(Some(merged))
    }

    /// The modalities to work on: those asked for, else those the sample holds.
    fn wanted(
        &self,
        body: &Value,
        field: &str,
        sample: &[Segment],
    ) -> Result<Vec<Modality>, Failure> {
        if let Some(asked) = record::modalities(body, field)? {
            return Ok(asked);
        }
        let mut present: Vec<Modality> = sample
            .iter()
            .filter(|s| !s.skipped)
            .filter_map(|s| s.modality)
            .collect();
        present.sort();
        present.dedup();
        if present.is_empty() {
            return Err(Failure::missing(
                "sample: no FINGER, IRIS or FACE segment holds data",
            ));
        }
        Ok(present)
    }

    fn match_(&self, body: &Value) -> Result<(Value, String), Failure> {
        let sample = record::segments(body.get("sample"), "sample")?;
        let gallery = match body.get("gallery") {
            None | Some(Value::Null) => return Err(Failure::missing("gallery")),
            Some(Value::Array(g)) if g.is_empty() => {
                return Err(Failure::missing("gallery (no record to match against)"))
            }
            Some(Value::Array(g)) => g,
            Some(_) => return Err(Failure::invalid("gallery is not a list")),
        };
        if gallery.len() > self.policy.max_gallery {
            return Err(Failure::invalid(format!(
                "gallery holds {} records, at most {}",
                gallery.len(),
                self.policy.max_gallery
            )));
        }
        let modalities = self.wanted(body, "modalitiesToMatch", &sample)?;
        let fmr = self.fmr(body)?;
        let mut probes = BTreeMap::new();
        for &m in &modalities {
            probes.insert(m, self.person(&sample, m, "sample")?);
        }
        let threshold = abis_engine::fusion::verify_threshold(fmr);
        let decisions: Vec<(Value, Vec<String>)> = gallery
            .par_iter()
            .enumerate()
            .map(|(i, entry)| self.match_one(i, entry, &probes, fmr))
            .collect();
        let mut summary = Vec::new();
        let answer: Vec<Value> = decisions
            .into_iter()
            .enumerate()
            .map(|(i, (decisions, words))| {
                summary.push(format!("{i}: {}", words.join(" ")));
                json!({
                    "galleryIndex": i,
                    "decisions": decisions,
                    "analyticsInfo": {
                        "targetFMR": format!("{fmr:e}"),
                        "threshold": format!("{threshold:.3}"),
                    },
                })
            })
            .collect();
        Ok((
            Value::Array(answer),
            format!(
                "match at FMR {fmr:e}, {} gallery records: {}",
                gallery.len(),
                summary.join("; ")
            ),
        ))
    }

    /// The decisions for gallery record `index`, and their words for the summary.
    fn match_one(
        &self,
        index: usize,
        entry: &Value,
        probes: &BTreeMap<Modality, Option<Record>>,
        fmr: f64,
    ) -> (Value, Vec<String>) {
        let what = format!("gallery[{index}]");
        let segments = record::segments(Some(entry), &what);
        let mut decisions = Map::new();
        let mut words = Vec::new();
        for (&m, probe) in probes {
            let decision = match (&segments, probe) {
                (_, None) => Err(format!("the sample holds no {} segment", m.name())),
                (Err(e), _) => Err(e.to_string()),
                (Ok(segments), Some(probe)) => match self.person(segments, m, &what) {
                    Err(e) => Err(e.to_string()),
                    Ok(None) => Err(format!("{what} holds no {} segment", m.name())),
                    Ok(Some(reference)) => self.decide(probe, &reference, fmr),
                },
            };
            let value = match decision {
                Ok((matched, analytics)) => {
                    let word = if matched { "MATCHED" } else { "NOT_MATCHED" };
                    words.push(format!("{}={word}", m.name()));
                    json!({"match": word, "errors": [], "analyticsInfo": analytics})
                }
                Err(e) => {
                    words.push(format!("{}=ERROR", m.name()));
                    json!({"match": "ERROR", "errors": [e], "analyticsInfo": {}})
                }
            };
            decisions.insert(m.name().to_owned(), value);
        }
        (Value::Object(decisions), words)
    }

    /// One modality's decision: matched, and the analytics.
    fn decide(
        &self,
        probe: &Record,
        reference: &Record,
        fmr: f64,
    ) -> Result<(bool, Value), String> {
        let v = abis_engine::compare(
            &self.shape,
            &self.search,
            &self.calibration,
            probe,
            reference,
            fmr,
        )
        .map_err(|e| match e {
            EngineError::InvalidRequest(_) => {
                "the sample and the gallery record share no finger position or eye".to_owned()
            }
            other => other.to_string(),
        })?;
        let parts: Vec<String> = v
            .scores
            .iter()
            .map(|s| {
                let what = match s.finger {
                    Some(p) => format!("finger {p}"),
                    None => s.modality.name().to_owned(),
                };
                format!("{what}: {:.2}", s.score)
            })
            .collect();
        Ok((
            v.is_match,
            json!({
                "score": format!("{:.3}", v.fused_score),
                "fmr": format!("{:.3e}", 10f64.powf(-v.fused_score)),
                "threshold": format!("{:.3}", v.threshold),
                "targetFMR": format!("{fmr:e}"),
                "comparisons": v.scores.len().to_string(),
                "scores": parts.join(", "),
            }),
        ))
    }

    fn check_quality(&self, body: &Value) -> Result<(Value, String), Failure> {
        let sample = record::segments(body.get("sample"), "sample")?;
        let modalities = self.wanted(body, "modalitiesToCheck", &sample)?;
        let mut scores = Map::new();
        let mut summary = Vec::new();
        for m in modalities {
            let of: Vec<&Segment> = sample
                .iter()
                .filter(|s| s.modality == Some(m) && !s.skipped)
                .collect();
            let measured: Vec<(String, crate::models::SampleQuality)> = of
                .par_iter()
                .map(|s| -> Result<_, Failure> { Ok((s.name(), self.quality(s)?)) })
                .collect::<Result<_, Failure>>()?;
            let mut errors: Vec<String> = Vec::new();
            let mut analytics = Map::new();
            for (name, q) in &measured {
                analytics.insert(name.clone(), json!(format!("{:.1}", q.score)));
                for (k, v) in &q.analytics {
                    analytics.insert(format!("{name}.{k}"), json!(v));
                }
                errors.extend(q.errors.iter().map(|e| format!("{name}: {e}")));
            }
            let score = if measured.is_empty() {
                errors.push(format!("the sample holds no {} segment", m.name()));
                0.0
            } else {
                measured.iter().map(|(_, q)| q.score).sum::<f64>() / measured.len() as f64
            };
            summary.push(format!("{}={score:.0}", m.name()));
            scores.insert(
                m.name().to_owned(),
                json!({"score": score, "errors": errors, "analyticsInfo": analytics}),
            );
        }
        Ok((
            json!({"scores": scores, "analyticsInfo": {}}),
            format!("quality {}", summary.join(" ")),
        ))
    }

    /// One segment's quality; a missing model or a failure of the service is a 500.
    fn quality(&self, s: &Segment) -> Result<crate::models::SampleQuality, Failure> {
        let unknown = |e: String| Failure::new(Status::UnknownError, e);
        if s.content != Content::Image {
            return Ok(crate::models::SampleQuality {
                score: 0.0,
                errors: vec!["a template, not an image: no quality is measured".into()],
                analytics: BTreeMap::new(),
            });
        }
        match s.modality {
            Some(Modality::Finger) => {
                let position = s.finger_position().ok_or_else(|| {
                    Failure::invalid(format!("{}: the subtype names no finger", s.name()))
                })?;
                self.models
                    .finger_quality(&s.data, position)
                    .map_err(unknown)
            }
            Some(Modality::Iris) => {
                let eye = s.eye().ok_or_else(|| {
                    Failure::invalid(format!("{}: the subtype names no eye", s.name()))
                })?;
                self.models.iris_quality(&s.data, eye).map_err(unknown)
            }
            Some(Modality::Face) => self.models.face_quality(&s.data).map_err(unknown),
            None => Err(Failure::invalid(format!("{}: not supported", s.name()))),
        }
    }

    /// One image segment extracted and gated: its template, or why it is unusable; a missing
    /// model or a failure of the service is a 500.
    fn extract(&self, s: &Segment) -> Result<Result<Extracted, String>, Failure> {
        let result = match s.modality {
            Some(Modality::Finger) => {
                let position = s.finger_position().ok_or_else(|| {
                    Failure::invalid(format!("{}: the subtype names no finger", s.name()))
                })?;
                self.models.finger(&s.data, position).map(Extracted::Finger)
            }
            Some(Modality::Iris) => {
                let eye = s.eye().ok_or_else(|| {
                    Failure::invalid(format!("{}: the subtype names no eye", s.name()))
                })?;
                self.models.iris(&s.data, eye).map(Extracted::Iris)
            }
            Some(Modality::Face) => self.models.face(&s.data).map(Extracted::Face),
            None => return Ok(Err("not supported".into())),
        };
        let extracted = match result {
            Ok(e) => e,
            Err(ImageRefusal::BadImage(why)) => return Ok(Err(why)),
            Err(e) => return Err(Failure::new(Status::UnknownError, e.to_string())),
        };
        // The engine's gate: what /match would refuse is not written as a template.
        let (bdb, _) = record::encode(&extracted);
        let probe = Segment {
            content: match extracted {
                Extracted::Finger(_) => Content::FingerTemplate,
                Extracted::Iris(_) => Content::IrisTemplate,
                Extracted::Face(_) => Content::FaceTemplate,
            },
            data: bdb,
            ..s.clone()
        };
        let gated = record::templates(&[&probe], "gate", &self.shape)
            .map_err(|e| e.detail)
            .and_then(|mut r| {
                r.validate_and_normalise(&self.shape)
                    .map_err(|e| e.to_string())
            });
        Ok(gated.map(|_| extracted))
    }

    fn extract_template(&self, body: &Value) -> Result<(Value, String), Failure> {
        let sample = record::segments(body.get("sample"), "sample")?;
        let modalities = self.wanted(body, "modalitiesToExtract", &sample)?;
        let todo: Vec<&Segment> = sample
            .iter()
            .filter(|s| !s.skipped && s.content == Content::Image)
            .filter(|s| s.modality.is_some_and(|m| modalities.contains(&m)))
            .collect();
        let results: Vec<Result<Extracted, String>> = todo
            .par_iter()
            .map(|s| self.extract(s))
            .collect::<Result<_, Failure>>()?;
        let mut out = body.get("sample").cloned().unwrap_or(Value::Null);
        let mut usable = BTreeMap::<Modality, usize>::new();
        let mut refused = Vec::new();
        for (s, result) in todo.iter().zip(results) {
            let m = s.modality.expect("filtered on modality");
            let Some(segment) = out["segments"].get_mut(s.index) else {
                continue;
            };
            match result {
                Ok(extracted) => {
                    *usable.entry(m).or_default() += 1;
                    let (bdb, format) = record::encode(&extracted);
                    use base64::Engine;
                    segment["bdb"] = json!(base64::engine::general_purpose::STANDARD.encode(bdb));
                    segment["bdbInfo"]["format"] =
                        json!({"organization": record::FORMAT_OWNER, "type": format});
                    segment["bdbInfo"]["level"] = json!("Processed");
                }
                Err(why) => {
                    refused.push(format!("{}: {why}", s.name()));
                    usable.entry(m).or_default();
                    // Left as the image it was (a later /match leaves it out again), and said.
                    if segment.get("others").is_none_or(Value::is_null) {
                        segment["others"] = json!({});
                    }
                    if let Some(others) = segment["others"].as_object_mut() {
                        others.insert(
                            record::REFUSED_MARK.into(),
                            json!(format!("refused: {why}")),
                        );
                    }
                }
            }
        }
        if let Some((m, _)) = usable.iter().find(|(_, n)| **n == 0) {
            return Err(Failure::new(
                Status::QualityCheckFailed,
                format!(
                    "no {} image gave a usable template ({})",
                    m.name(),
                    refused.join("; ")
                ),
            ));
        }
        let done: usize = usable.values().sum();
        Ok((
            out,
            format!(
                "extracted {done} templates, {} images refused",
                refused.len()
            ),
        ))
    }

    fn convert_format(&self, body: &Value) -> Result<(Value, String), Failure> {
        let text = |field: &str| -> Result<String, Failure> {
            match body.get(field) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                None | Some(Value::Null) => Err(Failure::missing(field)),
                Some(_) => Err(Failure::invalid(format!("{field} is not a string"))),
            }
        };
        let (source, target) = (text("sourceFormat")?, text("targetFormat")?);
        let modality = match (
            source.to_ascii_uppercase().as_str(),
            target.to_ascii_uppercase(),
        ) {
            ("ISO19794_4_2011", t) if t == "IMAGE/PNG" => Modality::Finger,
            ("ISO19794_6_2011", t) if t == "IMAGE/PNG" => Modality::Iris,
            _ => {
                return Err(Failure::invalid(format!(
                    "conversion from {source} to {target} is not supported; abis converts \
                     ISO19794_4_2011 (finger) and ISO19794_6_2011 (iris) to IMAGE/PNG"
                )))
            }
        };
        let sample = record::segments(body.get("sample"), "sample")?;
        let mut out = body.get("sample").cloned().unwrap_or(Value::Null);
        let mut converted = 0;
        for s in sample
            .iter()
            .filter(|s| s.modality == Some(modality) && !s.skipped)
        {
            let png = to_png(modality, &s.data)
                .map_err(|e| Failure::invalid(format!("{}: {e}", s.name())))?;
            use base64::Engine;
            out["segments"][s.index]["bdb"] =
                json!(base64::engine::general_purpose::STANDARD.encode(png));
            converted += 1;
        }
        Ok((out, format!("converted {converted} images to PNG")))
    }
}

/// The first image of an ISO finger or iris image record as PNG.
fn to_png(modality: Modality, data: &[u8]) -> Result<Vec<u8>, String> {
    use abis_imaging::{finger_record, iris_record};
    let image = match modality {
        Modality::Finger => {
            let record = finger_record::parse(data).map_err(|e| e.to_string())?;
            let view = record.views.first().ok_or("no finger view")?;
            view.decode().map_err(|e| e.to_string())?
        }
        _ => {
            let record = iris_record::parse(data).map_err(|e| e.to_string())?;
            let image = record.images.first().ok_or("no iris image")?;
            image.decode().map_err(|e| e.to_string())?
        }
    };
    abis_imaging::overlay_png(&image, &[]).map_err(|e| e.to_string())
}
