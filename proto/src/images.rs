//! Biometric images on the wire (`abis.v1.Finger.image`, `abis.v1.Iris.image`,
//! `abis.v1.Face.image`) and the one way a service turns them into templates before converting
//! a batch.
//!
//! Extraction itself (decoding, LEADER, iris segmentation and encoding, the face network) lives
//! outside this crate, behind [`ImageExtractor`], so that the wire crate and the shard nodes
//! never link an image codec or a network. A service that takes images ([`take_images`],
//! extraction, [`put_template`]; or [`extract_images`] in one sequential call) replaces each
//! image by the template extracted from it; everything downstream sees templates only. A
//! service that does not extract refuses images ([`ProtoError::ImageNotExtracted`] from the
//! conversions).

use crate::error::ImageOf;
use crate::finger::finger_position;
use crate::record::eye_from_proto;
use crate::{v1, BatchError, ProtoError};
use abis_engine::Eye;
use abis_matchers::iris::IrisLayout;

/// An iris code extracted from an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrisCode {
    /// Code bits in `layout`'s order.
    pub code: Vec<u8>,
    /// Mask bits (1 = valid), as long as the code.
    pub mask: Vec<u8>,
    /// The layout the extractor encodes in.
    pub layout: IrisLayout,
}

/// A template extracted from an image, of the image's modality.
#[derive(Debug, Clone, PartialEq)]
pub enum Extracted {
    /// An ISO/IEC 19794-2 finger minutiae record.
    Finger(Vec<u8>),
    /// An iris code and mask.
    Iris(IrisCode),
    /// A face embedding (not necessarily normalised).
    Face(Vec<f32>),
}

/// Turns images into templates, one modality per method.
pub trait ImageExtractor: Send + Sync {
    /// The ISO/IEC 19794-2 record of the finger at `position` (1..=10) in `image` (an
    /// ISO/IEC 19794-4 record or an image file, as `abis.v1.Finger.image` describes).
    fn finger(&self, image: &[u8], position: u8) -> Result<Vec<u8>, ImageRefusal>;
    /// The code of the `eye` iris in `image` (an ISO/IEC 19794-6 record or an image file, as
    /// `abis.v1.Iris.image` describes).
    fn iris(&self, image: &[u8], eye: Eye) -> Result<IrisCode, ImageRefusal>;
    /// The embedding of the face in `image` (an ISO/IEC 19794-5 record or an image file, as
    /// `abis.v1.Face.image` describes).
    fn face(&self, image: &[u8]) -> Result<Vec<f32>, ImageRefusal>;
}

/// Why an image gave no template.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageRefusal {
    /// The caller's image is at fault (unreadable, no usable resolution, no such finger view or
    /// eye, nothing usable found): it is refused, naming the item and template.
    #[error("{0}")]
    BadImage(String),
    /// The service cannot read this modality's images (its model is not installed); the reason
    /// says how to install it.
    #[error("{0}")]
    Unavailable(String),
    /// The service failed (its model could not run): not the caller's fault.
    #[error("{0}")]
    Failed(String),
}

/// Why a batch's images could not all be extracted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageBatchError {
    /// An image was refused (or its finger position or eye); nothing of the batch may be used.
    #[error(transparent)]
    Refused(#[from] BatchError),
    /// The service cannot read this modality's images.
    #[error("item {item}, {of}: {reason}")]
    Unavailable {
        /// The record's index in the batch.
        item: usize,
        /// Whose image.
        of: ImageOf,
        /// Why, and how to install what is missing.
        reason: String,
    },
    /// The extractor failed on an image.
    #[error("item {item}, {of}: image extraction failed: {reason}")]
    Failed {
        /// The record's index in the batch.
        item: usize,
        /// Whose image.
        of: ImageOf,
        /// The extractor's reason.
        reason: String,
    },
}

/// Where an image sits in its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSlot {
    /// `fingers[index]`, at this position (checked 1..=10).
    Finger {
        /// Index in the record's fingers.
        index: usize,
        /// The finger position.
        position: u8,
    },
    /// `irises[index]`, of this eye.
    Iris {
        /// Index in the record's irises.
        index: usize,
        /// The eye.
        eye: Eye,
    },
    /// The record's face.
    Face,
}

impl ImageSlot {
    /// Whose image this is.
    pub fn of(&self) -> ImageOf {
        match *self {
            Self::Finger { position, .. } => ImageOf::Finger(position),
            Self::Iris { eye, .. } => ImageOf::Iris(eye),
            Self::Face => ImageOf::Face,
        }
    }
}

/// One image taken out of a batch by [`take_images`].
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Index of its record in the batch.
    pub item: usize,
    /// Where in the record.
    pub slot: ImageSlot,
    /// The image bytes.
    pub bytes: Vec<u8>,
}

impl Image {
    /// Runs `extractor` on the image, mapping a refusal to the batch's error.
    pub fn extract(&self, extractor: &dyn ImageExtractor) -> Result<Extracted, ImageBatchError> {
        let result = match self.slot {
            ImageSlot::Finger { position, .. } => extractor
                .finger(&self.bytes, position)
                .map(Extracted::Finger),
            ImageSlot::Iris { eye, .. } => extractor.iris(&self.bytes, eye).map(Extracted::Iris),
            ImageSlot::Face => extractor.face(&self.bytes).map(Extracted::Face),
        };
        let (item, of) = (self.item, self.slot.of());
        result.map_err(|refusal| match refusal {
            ImageRefusal::BadImage(reason) => ImageBatchError::Refused(BatchError {
                index: Some(item),
                error: ProtoError::BadImage { of, reason },
            }),
            ImageRefusal::Unavailable(reason) => ImageBatchError::Unavailable { item, of, reason },
            ImageRefusal::Failed(reason) => ImageBatchError::Failed { item, of, reason },
        })
    }
}

/// How many images `records` carry, of every modality.
pub fn count_images(records: &[v1::Record]) -> usize {
    records
        .iter()
        .map(|r| {
            let fingers = r
                .fingers
                .iter()
                .filter(|f| matches!(f.template, Some(v1::finger::Template::Image(_))))
                .count();
            let irises = r.irises.iter().filter(|i| !i.image.is_empty()).count();
            let face = r.face.as_ref().is_some_and(|f| !f.image.is_empty());
            fingers + irises + usize::from(face)
        })
        .sum()
}

/// Checks what must hold before any image of `records` is touched: each image's finger
/// position or eye is valid, and an iris or face image comes without a template.
fn check_images(records: &[v1::Record]) -> Result<(), BatchError> {
    for (item, record) in records.iter().enumerate() {
        let refuse = |error| BatchError {
            index: Some(item),
            error,
        };
        for finger in &record.fingers {
            if matches!(finger.template, Some(v1::finger::Template::Image(_))) {
                finger_position(finger.position).map_err(refuse)?;
            }
        }
        for iris in record.irises.iter().filter(|i| !i.image.is_empty()) {
            let eye = eye_from_proto(iris.eye).map_err(refuse)?;
            if !iris.code.is_empty() || !iris.mask.is_empty() || iris.layout.is_some() {
                return Err(refuse(ProtoError::ImageAndTemplate {
                    of: ImageOf::Iris(eye),
                }));
            }
        }
        if let Some(face) = record.face.as_ref().filter(|f| !f.image.is_empty()) {
            if !face.embedding.is_empty() {
                return Err(refuse(ProtoError::ImageAndTemplate { of: ImageOf::Face }));
            }
        }
    }
    Ok(())
}

/// Takes every image out of `records`, in order (per record: fingers, irises, face), checking
/// each one's finger position or eye first (an invalid one refuses the batch before any image
/// is touched). The templates are left empty until [`put_template`] fills them.
pub fn take_images(records: &mut [v1::Record]) -> Result<Vec<Image>, BatchError> {
    check_images(records)?;
    let mut images = Vec::new();
    for (item, record) in records.iter_mut().enumerate() {
        for (index, finger) in record.fingers.iter_mut().enumerate() {
            if let Some(v1::finger::Template::Image(bytes)) = &mut finger.template {
                let position =
                    finger_position(finger.position).expect("every position was checked above");
                images.push(Image {
                    item,
                    slot: ImageSlot::Finger { index, position },
                    bytes: std::mem::take(bytes),
                });
                finger.template = None;
            }
        }
        for (index, iris) in record.irises.iter_mut().enumerate() {
            if !iris.image.is_empty() {
                let eye = eye_from_proto(iris.eye).expect("every eye was checked above");
                images.push(Image {
                    item,
                    slot: ImageSlot::Iris { index, eye },
                    bytes: std::mem::take(&mut iris.image),
                });
            }
        }
        if let Some(face) = record.face.as_mut().filter(|f| !f.image.is_empty()) {
            images.push(Image {
                item,
                slot: ImageSlot::Face,
                bytes: std::mem::take(&mut face.image),
            });
        }
    }
    Ok(images)
}

/// Puts the template extracted from `image` where the image was.
pub fn put_template(records: &mut [v1::Record], image: &Image, template: Extracted) {
    let Some(record) = records.get_mut(image.item) else {
        return;
    };
    match (image.slot, template) {
        (ImageSlot::Finger { index, .. }, Extracted::Finger(iso)) => {
            if let Some(finger) = record.fingers.get_mut(index) {
                finger.template = Some(v1::finger::Template::IsoOrAnsiRecord(iso));
            }
        }
        (ImageSlot::Iris { index, .. }, Extracted::Iris(code)) => {
            if let Some(iris) = record.irises.get_mut(index) {
                iris.code = code.code;
                iris.mask = code.mask;
                iris.layout = Some(code.layout.into());
            }
        }
        (ImageSlot::Face, Extracted::Face(embedding)) => {
            if let Some(face) = record.face.as_mut() {
                face.embedding = embedding;
            }
        }
        // An extractor answers each slot with its own modality ([`Image::extract`]).
        (slot, template) => unreachable!("{slot:?} given {template:?}"),
    }
}

/// Replaces every image of `records` by its template, one after the other; the batch is
/// refused at the first image that gives none. Returns how many images were extracted.
pub fn extract_images(
    records: &mut [v1::Record],
    extractor: &dyn ImageExtractor,
) -> Result<usize, ImageBatchError> {
    let images = take_images(records)?;
    for image in &images {
        let template = image.extract(extractor)?;
        put_template(records, image, template);
    }
    Ok(images.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the "image" as its own template unless it says "bad", "none" or "fail".
    struct Echo;

    fn refusal(image: &[u8]) -> Option<ImageRefusal> {
        match image {
            b"bad" => Some(ImageRefusal::BadImage("unreadable".into())),
            b"none" => Some(ImageRefusal::Unavailable("fetch the model".into())),
            b"fail" => Some(ImageRefusal::Failed("model".into())),
            _ => None,
        }
    }

    impl ImageExtractor for Echo {
        fn finger(&self, image: &[u8], position: u8) -> Result<Vec<u8>, ImageRefusal> {
            refusal(image).map_or_else(|| Ok([image, &[position]].concat()), Err)
        }

        fn iris(&self, image: &[u8], eye: Eye) -> Result<IrisCode, ImageRefusal> {
            if let Some(refused) = refusal(image) {
                return Err(refused);
            }
            Ok(IrisCode {
                code: [image, eye.name().as_bytes()].concat(),
                mask: image.to_vec(),
                layout: IrisLayout::OPEN_IRIS_12800,
            })
        }

        fn face(&self, image: &[u8]) -> Result<Vec<f32>, ImageRefusal> {
            refusal(image).map_or_else(|| Ok(image.iter().map(|&b| f32::from(b)).collect()), Err)
        }
    }

    fn finger(position: u32, template: v1::finger::Template) -> v1::Finger {
        v1::Finger {
            position,
            template: Some(template),
        }
    }

    fn image(position: u32, bytes: &[u8]) -> v1::Finger {
        finger(position, v1::finger::Template::Image(bytes.to_vec()))
    }

    fn iris_image(eye: v1::Eye, bytes: &[u8]) -> v1::Iris {
        v1::Iris {
            eye: eye as i32,
            image: bytes.to_vec(),
            ..Default::default()
        }
    }

    fn face_image(bytes: &[u8]) -> v1::Face {
        v1::Face {
            image: bytes.to_vec(),
            ..Default::default()
        }
    }

    fn records(second: v1::Finger) -> Vec<v1::Record> {
        let iso = finger(1, v1::finger::Template::IsoOrAnsiRecord(b"FMR\0".to_vec()));
        vec![
            v1::Record {
                fingers: vec![iso.clone(), image(2, b"a")],
                irises: vec![iris_image(v1::Eye::Right, b"r")],
                ..Default::default()
            },
            v1::Record::default(),
            v1::Record {
                fingers: vec![image(7, b"b"), iso, second],
                face: Some(face_image(b"f")),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn images_become_templates_in_place_and_other_templates_are_untouched() {
        let mut batch = records(image(9, b"c"));
        assert_eq!(count_images(&batch), 5);
        assert_eq!(extract_images(&mut batch, &Echo), Ok(5));
        assert_eq!(count_images(&batch), 0);
        let template = |item: usize, finger: usize| match &batch[item].fingers[finger].template {
            Some(v1::finger::Template::IsoOrAnsiRecord(b)) => b.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(template(0, 0), b"FMR\0");
        assert_eq!(template(0, 1), b"a\x02");
        assert_eq!(template(2, 0), b"b\x07");
        assert_eq!(template(2, 1), b"FMR\0");
        assert_eq!(template(2, 2), b"c\x09");
        let iris = &batch[0].irises[0];
        assert_eq!(
            (iris.code.as_slice(), iris.mask.as_slice()),
            (&b"rright"[..], &b"r"[..])
        );
        assert_eq!(iris.layout, Some(IrisLayout::OPEN_IRIS_12800.into()));
        assert!(iris.image.is_empty());
        let face = batch[2].face.as_ref().unwrap();
        assert_eq!(
            (face.embedding.as_slice(), face.image.len()),
            (&[102.0][..], 0)
        );
    }

    #[test]
    fn a_bad_image_position_or_eye_refuses_the_batch_naming_its_item() {
        let mut batch = records(image(9, b"bad"));
        assert_eq!(
            extract_images(&mut batch, &Echo),
            Err(ImageBatchError::Refused(BatchError {
                index: Some(2),
                error: ProtoError::BadImage {
                    of: ImageOf::Finger(9),
                    reason: "unreadable".into()
                }
            }))
        );
        let mut batch = records(image(11, b"c"));
        assert_eq!(
            extract_images(&mut batch, &Echo),
            Err(ImageBatchError::Refused(BatchError {
                index: Some(2),
                error: ProtoError::InvalidFingerPosition { position: 11 }
            }))
        );
        // Refused before any image was taken.
        assert_eq!(count_images(&batch), 5);

        let mut batch = records(image(9, b"c"));
        batch[0].irises[0].eye = v1::Eye::Unspecified as i32;
        assert!(matches!(
            extract_images(&mut batch, &Echo),
            Err(ImageBatchError::Refused(BatchError {
                index: Some(0),
                error: ProtoError::InvalidEnum { .. }
            }))
        ));
        assert_eq!(count_images(&batch), 5);

        let mut batch = records(image(9, b"c"));
        batch[2].face = Some(face_image(b"bad"));
        assert_eq!(
            extract_images(&mut batch, &Echo),
            Err(ImageBatchError::Refused(BatchError {
                index: Some(2),
                error: ProtoError::BadImage {
                    of: ImageOf::Face,
                    reason: "unreadable".into()
                }
            }))
        );
    }

    #[test]
    fn an_unavailable_or_failing_extractor_is_not_the_callers_fault() {
        let mut batch = records(image(9, b"fail"));
        assert!(matches!(
            extract_images(&mut batch, &Echo),
            Err(ImageBatchError::Failed {
                item: 2,
                of: ImageOf::Finger(9),
                ..
            })
        ));
        let mut batch = records(image(9, b"c"));
        batch[0].irises[0].image = b"none".to_vec();
        assert!(matches!(
            extract_images(&mut batch, &Echo),
            Err(ImageBatchError::Unavailable {
                item: 0,
                of: ImageOf::Iris(Eye::Right),
                ..
            })
        ));
    }

    #[test]
    fn an_image_beside_a_template_is_refused_before_any_work() {
        let mut batch = records(image(9, b"c"));
        batch[0].irises[0].code = vec![0; 4];
        assert_eq!(
            take_images(&mut batch),
            Err(BatchError {
                index: Some(0),
                error: ProtoError::ImageAndTemplate {
                    of: ImageOf::Iris(Eye::Right)
                }
            })
        );
        batch[0].irises[0].code.clear();
        batch[2].face.as_mut().unwrap().embedding = vec![1.0];
        assert_eq!(
            take_images(&mut batch),
            Err(BatchError {
                index: Some(2),
                error: ProtoError::ImageAndTemplate { of: ImageOf::Face }
            })
        );
        assert_eq!(count_images(&batch), 5);
    }

    #[test]
    fn an_image_is_refused_where_templates_are_expected() {
        assert_eq!(
            crate::finger_from_proto(image(3, b"\x89PNG")),
            Err(ProtoError::ImageNotExtracted {
                of: ImageOf::Finger(3)
            })
        );
        let layout = IrisLayout::OPEN_IRIS_12800;
        for (record, of) in [
            (
                v1::Record {
                    reference_id: "p".into(),
                    irises: vec![iris_image(v1::Eye::Left, b"x")],
                    ..Default::default()
                },
                ImageOf::Iris(Eye::Left),
            ),
            (
                v1::Record {
                    reference_id: "p".into(),
                    face: Some(face_image(b"x")),
                    ..Default::default()
                },
                ImageOf::Face,
            ),
        ] {
            assert_eq!(
                record.into_engine(&layout),
                Err(ProtoError::ImageNotExtracted { of })
            );
        }
    }
}
