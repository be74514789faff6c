#!/usr/bin/env python3
"""Writes extract-face/tests/fixtures/: face chips and the descriptors dlib itself computes for
them, the reference abis-extract-face's ResNet is tested against (extract-face/tests/resnet.rs).

How the fixtures are made (deterministic: no randomness but a seeded generator, no clock):
- A venv under /tmp (VENV below) with PyPI `dlib-bin` 20.0.1.post1 (dlib's Python module,
  prebuilt), numpy and Pillow. A local copy of a wheel may be given with --dlib-wheel.
- The photo is `skimage/data/astronaut.png` (Eileen Collins, NASA: public domain), read straight
  out of a scikit-image wheel (--skimage-wheel, or downloaded with pip; nothing installed).
- `astronaut`: dlib's own pipeline on the photo: the HOG frontal face detector (built into dlib;
  no upsampling, the largest detection),
  the 5-point landmark model (`shape_predictor_5_face_landmarks.dat` from the models folder that
  scripts/fetch-models.sh fills) and `dlib.get_face_chip(image, shape, 150, 0.25)`: the 150x150
  RGB chip dlib would describe.
- Variants of that chip, made with numpy/Pillow: `astronaut-flipped` (mirrored left-right),
  `astronaut-bright` (values * 1.25 + 20, clipped), `astronaut-rotated` (turned 7 degrees about
  its centre, bilinear, corners filled grey 128).
- Synthetic chips: `gradient` (R along x, G along y, B along the diagonal), `checker` (8-pixel
  black/white squares with a coloured frame), `noise` (uniform bytes, numpy PCG64 seed 19_794).
- Each chip is written as an 8-bit RGB PNG, and dlib's descriptor of it,
  `dlib.face_recognition_model_v1(resnet).compute_face_descriptor(chip)` (the overload that takes
  an aligned 150x150 chip, no jitter), goes into descriptors.json with the chip's name, the SHA-256
  of its RGB bytes, the model's SHA-256 and dlib's version.

MOSIP's test-vector face is not used: a chip made from it could not be committed, and the test
could not rebuild it without dlib's detector and aligner.

Usage: python3 scripts/face-fixtures.py [--models DIR] [--dlib-wheel WHL] [--skimage-wheel WHL]
"""

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

VENV = Path("/tmp/abis-face-venv")
DLIB_PIN = "dlib-bin==20.0.1.post1"
SKIMAGE_PIN = "scikit-image==0.26.0"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "extract-face" / "tests" / "fixtures"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS = "shape_predictor_5_face_landmarks.dat"
RESNET_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"


def models_dir(arg):
    if arg:
        return Path(arg)
    if os.environ.get("ABIS_MODELS"):
        return Path(os.environ["ABIS_MODELS"])
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.environ["HOME"], ".local/share")
    return Path(data) / "abis" / "models"


def ensure_venv(args):
    """Re-runs this script inside the venv (made on first use)."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix) == VENV:
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", args.dlib_wheel or DLIB_PIN, "numpy", "pillow"],
            check=True,
        )
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def astronaut_png(args):
    wheel = args.skimage_wheel
    if not wheel:
        tmp = Path("/tmp/abis-face-skimage")
        tmp.mkdir(exist_ok=True)
        wheels = sorted(tmp.glob("scikit_image-*.whl"))
        if not wheels:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp), SKIMAGE_PIN],
                check=True,
            )
            wheels = sorted(tmp.glob("scikit_image-*.whl"))
        wheel = wheels[0]
    with zipfile.ZipFile(wheel) as z:
        return z.read("skimage/data/astronaut.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models")
    parser.add_argument("--dlib-wheel")
    parser.add_argument("--skimage-wheel")
    args = parser.parse_args()
    ensure_venv(args)

    import dlib
    import numpy as np
    from PIL import Image

    models = models_dir(args.models)
    resnet_path = models / RESNET
    model_sha = hashlib.sha256(resnet_path.read_bytes()).hexdigest()
    if model_sha != RESNET_SHA256:
        sys.exit(f"{resnet_path} has sha256 {model_sha}, expected {RESNET_SHA256}")
    net = dlib.face_recognition_model_v1(str(resnet_path))
    predictor = dlib.shape_predictor(str(models / LANDMARKS))

    photo = np.asarray(Image.open(io.BytesIO(astronaut_png(args))).convert("RGB"))
    faces = list(dlib.get_frontal_face_detector()(photo, 0))
    if not faces:
        sys.exit("no face found in the astronaut photo")
    face = max(faces, key=lambda r: r.area())
    print(f"astronaut: face at {face}, of {len(faces)} found")
    shape = predictor(photo, face)
    chip = np.asarray(dlib.get_face_chip(photo, shape, size=150, padding=0.25))

    side = 150
    y, x = np.mgrid[0:side, 0:side]
    gradient = np.stack([x * 255 // 149, y * 255 // 149, (x + y) * 255 // 298], axis=-1)
    checker = np.where((((x // 8) + (y // 8)) % 2 == 0)[..., None], 255, 0) * np.ones(3, int)
    frame = (x < 10) | (y < 10) | (x >= 140) | (y >= 140)
    checker[frame] = (200, 40, 90)
    noise = np.random.Generator(np.random.PCG64(19_794)).integers(0, 256, (side, side, 3))
    rotated = Image.fromarray(chip).rotate(7, resample=Image.BILINEAR, fillcolor=(128, 128, 128))

    chips = {
        "astronaut": chip,
        "astronaut-flipped": chip[:, ::-1],
        "astronaut-bright": np.clip(chip.astype(np.float64) * 1.25 + 20, 0, 255),
        "astronaut-rotated": np.asarray(rotated),
        "gradient": gradient,
        "checker": checker,
        "noise": noise,
    }

    OUT.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, pixels in chips.items():
        pixels = np.ascontiguousarray(np.asarray(pixels).astype(np.uint8))
        assert pixels.shape == (side, side, 3), (name, pixels.shape)
        Image.fromarray(pixels, "RGB").save(OUT / f"{name}.png", optimize=True)
        descriptor = net.compute_face_descriptor(pixels)
        entries.append(
            {
                "name": name,
                "file": f"{name}.png",
                "rgb_sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
                "descriptor": [float(v) for v in descriptor],
            }
        )
        print(f"{name}: |d| = {np.linalg.norm(np.array(descriptor)):.4f}")
    doc = {
        "made_by": "scripts/face-fixtures.py",
        "dlib_version": dlib.__version__,
        "model": RESNET,
        "model_sha256": model_sha,
        "chips": entries,
    }
    (OUT / "descriptors.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(entries)} chips and descriptors.json to {OUT}")


if __name__ == "__main__":
    main()
