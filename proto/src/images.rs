//! Finger images on the wire (`abis.v1.Finger.image`) and the one way a service turns them into
//! templates before converting a batch.
//!
//! Extraction itself (decoding, LEADER) lives outside this crate, behind
//! [`FingerImageExtractor`], so that the wire crate and the shard nodes never link an image
//! codec or a network. A service that takes images ([`take_finger_images`], extraction,
//! [`put_finger_template`]; or [`extract_finger_images`] in one sequential call) replaces each
//! image by the ISO/IEC 19794-2 record extracted from it; everything downstream sees a template
//! only. A service that does not extract refuses images ([`ProtoError::FingerImageNotExtracted`]
//! from [`crate::finger_from_proto`]).

use crate::finger::finger_position;
use crate::{v1, BatchError, ProtoError};

/// Turns one finger image into a template.
pub trait FingerImageExtractor: Send + Sync {
    /// The ISO/IEC 19794-2 record of the finger at `position` (1..=10) in `image` (an
    /// ISO/IEC 19794-4 record or an image file, as `abis.v1.Finger.image` describes).
    fn template(&self, image: &[u8], position: u8) -> Result<Vec<u8>, ImageRefusal>;
}

/// Why an image gave no template.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageRefusal {
    /// The caller's image is at fault (unreadable, no usable resolution, no such finger view,
    /// too few minutiae to write): it is refused, naming the item and finger.
    #[error("{0}")]
    BadImage(String),
    /// The service failed (its model could not run): not the caller's fault.
    #[error("{0}")]
    Failed(String),
}

/// Why a batch's images could not all be extracted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageBatchError {
    /// An image (or its finger position) was refused; nothing of the batch may be used.
    #[error(transparent)]
    Refused(#[from] BatchError),
    /// The extractor failed on an image.
    #[error("item {item}, finger {position}: finger image extraction failed: {reason}")]
    Failed {
        /// The record's index in the batch.
        item: usize,
        /// The finger position.
        position: u8,
        /// The extractor's reason.
        reason: String,
    },
}

/// One finger image taken out of a batch by [`take_finger_images`].
#[derive(Debug, Clone, PartialEq)]
pub struct FingerImage {
    /// Index of its record in the batch.
    pub item: usize,
    /// Index of the finger in its record.
    pub finger: usize,
    /// The finger position, checked (1..=10).
    pub position: u8,
    /// The image bytes.
    pub bytes: Vec<u8>,
}

impl FingerImage {
    /// Runs `extractor` on the image, mapping a refusal to the batch's error.
    pub fn extract(
        &self,
        extractor: &dyn FingerImageExtractor,
    ) -> Result<Vec<u8>, ImageBatchError> {
        extractor
            .template(&self.bytes, self.position)
            .map_err(|refusal| match refusal {
                ImageRefusal::BadImage(reason) => ImageBatchError::Refused(BatchError {
                    index: Some(self.item),
                    error: ProtoError::BadFingerImage {
                        position: self.position,
                        reason,
                    },
                }),
                ImageRefusal::Failed(reason) => ImageBatchError::Failed {
                    item: self.item,
                    position: self.position,
                    reason,
                },
            })
    }
}

/// How many fingers of `records` carry an image.
pub fn count_finger_images(records: &[v1::Record]) -> usize {
    records
        .iter()
        .flat_map(|r| &r.fingers)
        .filter(|f| matches!(f.template, Some(v1::finger::Template::Image(_))))
        .count()
}

/// Takes every finger image out of `records`, in order, checking each one's finger position
/// first (an invalid one refuses the batch before any image is touched). The fingers are left
/// without a template until [`put_finger_template`] fills them.
pub fn take_finger_images(records: &mut [v1::Record]) -> Result<Vec<FingerImage>, BatchError> {
    for (item, record) in records.iter().enumerate() {
        for finger in &record.fingers {
            if matches!(finger.template, Some(v1::finger::Template::Image(_))) {
                finger_position(finger.position).map_err(|error| BatchError {
                    index: Some(item),
                    error,
                })?;
            }
        }
    }
    let mut images = Vec::new();
    for (item, record) in records.iter_mut().enumerate() {
        for (index, finger) in record.fingers.iter_mut().enumerate() {
            if let Some(v1::finger::Template::Image(bytes)) = &mut finger.template {
                images.push(FingerImage {
                    item,
                    finger: index,
                    position: finger_position(finger.position)
                        .expect("every image's position was checked above"),
                    bytes: std::mem::take(bytes),
                });
                finger.template = None;
            }
        }
    }
    Ok(images)
}

/// Puts the template extracted from `image` where the image was.
pub fn put_finger_template(records: &mut [v1::Record], image: &FingerImage, template: Vec<u8>) {
    if let Some(finger) = records
        .get_mut(image.item)
        .and_then(|r| r.fingers.get_mut(image.finger))
    {
        finger.template = Some(v1::finger::Template::IsoOrAnsiRecord(template));
    }
}

/// Replaces every finger image of `records` by its template, one after the other; the batch is
/// refused at the first image that gives none. Returns how many images were extracted.
pub fn extract_finger_images(
    records: &mut [v1::Record],
    extractor: &dyn FingerImageExtractor,
) -> Result<usize, ImageBatchError> {
    let images = take_finger_images(records)?;
    for image in &images {
        let template = image.extract(extractor)?;
        put_finger_template(records, image, template);
    }
    Ok(images.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the "image" as its own template unless it says "bad" or "fail".
    struct Echo;

    impl FingerImageExtractor for Echo {
        fn template(&self, image: &[u8], position: u8) -> Result<Vec<u8>, ImageRefusal> {
            match image {
                b"bad" => Err(ImageRefusal::BadImage("unreadable".into())),
                b"fail" => Err(ImageRefusal::Failed("model".into())),
                _ => Ok([image, &[position]].concat()),
            }
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

    fn records(second: v1::Finger) -> Vec<v1::Record> {
        let iso = finger(1, v1::finger::Template::IsoOrAnsiRecord(b"FMR\0".to_vec()));
        vec![
            v1::Record {
                fingers: vec![iso.clone(), image(2, b"a")],
                ..Default::default()
            },
            v1::Record::default(),
            v1::Record {
                fingers: vec![image(7, b"b"), iso, second],
                ..Default::default()
            },
        ]
    }

    #[test]
    fn images_become_templates_in_place_and_other_fingers_are_untouched() {
        let mut batch = records(image(9, b"c"));
        assert_eq!(count_finger_images(&batch), 3);
        assert_eq!(extract_finger_images(&mut batch, &Echo), Ok(3));
        assert_eq!(count_finger_images(&batch), 0);
        let template = |item: usize, finger: usize| match &batch[item].fingers[finger].template {
            Some(v1::finger::Template::IsoOrAnsiRecord(b)) => b.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(template(0, 0), b"FMR\0");
        assert_eq!(template(0, 1), b"a\x02");
        assert_eq!(template(2, 0), b"b\x07");
        assert_eq!(template(2, 1), b"FMR\0");
        assert_eq!(template(2, 2), b"c\x09");
    }

    #[test]
    fn a_bad_image_or_position_refuses_the_batch_naming_its_item() {
        let mut batch = records(image(9, b"bad"));
        assert_eq!(
            extract_finger_images(&mut batch, &Echo),
            Err(ImageBatchError::Refused(BatchError {
                index: Some(2),
                error: ProtoError::BadFingerImage {
                    position: 9,
                    reason: "unreadable".into()
                }
            }))
        );
        let mut batch = records(image(11, b"c"));
        let refused = extract_finger_images(&mut batch, &Echo);
        assert_eq!(
            refused,
            Err(ImageBatchError::Refused(BatchError {
                index: Some(2),
                error: ProtoError::InvalidFingerPosition { position: 11 }
            }))
        );
        // Refused before any image was taken.
        assert_eq!(count_finger_images(&batch), 3);
        let mut batch = records(image(9, b"fail"));
        assert!(matches!(
            extract_finger_images(&mut batch, &Echo),
            Err(ImageBatchError::Failed {
                item: 2,
                position: 9,
                ..
            })
        ));
    }

    #[test]
    fn an_image_is_refused_where_templates_are_expected() {
        assert_eq!(
            crate::finger_from_proto(image(3, b"\x89PNG")),
            Err(ProtoError::FingerImageNotExtracted { position: 3 })
        );
    }
}
