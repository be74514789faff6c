#!/usr/bin/env python3
"""Reference minutiae for abis-extract's parity test, from the ORIGINAL LEADER.onnx run by
onnxruntime (not tract, and without our load-time graph rewrite).

Throw-away environment, nothing installed in the project:

    python3 -m venv /tmp/ortenv && /tmp/ortenv/bin/pip install onnxruntime numpy pillow
    /tmp/ortenv/bin/python scripts/leader-reference.py [--model PATH] [--data DIR] [--out FILE]

It applies what abis-extract applies, so the two can be compared minutia by minutia:
- images not at 500 ppi are resampled with the same bilinear formula as
  `abis_extract::resample_to_500ppi` (pixel centres aligned, f64 arithmetic in the same order,
  rounded half away from zero to u8); the fixture keeps an FNV-1a hash of the resampled pixels so
  the test can tell a resampling difference from an inference difference;
- centred padding to multiples of 32 with the image's top-left grey level (what LEADER's authors
  do in pyfing);
- minutiae are pixels of channel 3 (position after non-maximum suppression) >= 0.6, at most 120
  by that value (ties by row, then column), padding dropped.
"""
import argparse
import json
import os
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

THRESHOLD = 0.6
MAX_MINUTIAE = 120
MULTIPLE = 32
TARGET_PPI = 500.0
# One image per real FVC2002 database: (file under fvc2002/, its resolution in ppi).
IMAGES = [("DB1_B/101_1.tif", 500), ("DB2_B/101_1.tif", 569), ("DB3_B/101_1.tif", 500)]


def default_models_dir() -> Path:
    if os.environ.get("ABIS_MODELS"):
        return Path(os.environ["ABIS_MODELS"])
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data) / "abis" / "models"


def resample_to_500ppi(img: np.ndarray, ppi: float) -> np.ndarray:
    """Bilinear resampling, the formula of abis_extract::resample_to_500ppi."""
    h, w = img.shape
    scale = ppi / TARGET_PPI  # source pixels per output pixel
    out_w = max(1, int(np.floor(w / scale + 0.5)))
    out_h = max(1, int(np.floor(h / scale + 0.5)))
    src = img.astype(np.float64)

    def axis(n_out, n_in):
        pos = (np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5
        pos = np.clip(pos, 0.0, float(n_in - 1))
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, pos - i0

    y0, y1, fy = axis(out_h, h)
    x0, x1, fx = axis(out_w, w)
    fx = fx[np.newaxis, :]
    top = src[y0][:, x0] + (src[y0][:, x1] - src[y0][:, x0]) * fx
    bottom = src[y1][:, x0] + (src[y1][:, x1] - src[y1][:, x0]) * fx
    value = top + (bottom - top) * fy[:, np.newaxis]
    # Round half away from zero (Rust's f64::round), values are >= 0.
    return np.clip(np.floor(value + 0.5), 0, 255).astype(np.uint8)


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


GRID_STRIDE = 16


def extract(session, img: np.ndarray):
    h, w = img.shape
    big_h = (h + MULTIPLE - 1) // MULTIPLE * MULTIPLE
    big_w = (w + MULTIPLE - 1) // MULTIPLE * MULTIPLE
    top, left = (big_h - h) // 2, (big_w - w) // 2
    padded = np.full((big_h, big_w), img[0, 0], dtype=np.float32)
    padded[top:top + h, left:left + w] = img
    out = session.run(None, {"input": padded[np.newaxis, :, :, np.newaxis]})[0][0]
    out = out[top:top + h, left:left + w]
    ys, xs = np.nonzero(out[..., 3] >= THRESHOLD)
    quality = out[ys, xs, 3]
    order = np.lexsort((xs, ys, -quality))[:MAX_MINUTIAE]
    # Whole-map check beyond the minutiae: probability and type on a coarse grid (direction is
    # left out: away from minutiae it is atan2 of two near-zero values, meaningless there).
    grid = out[GRID_STRIDE // 2::GRID_STRIDE, GRID_STRIDE // 2::GRID_STRIDE]
    grid = {
        "stride": GRID_STRIDE,
        "offset": GRID_STRIDE // 2,
        "probability": [[round(float(v), 6) for v in row] for row in grid[..., 0]],
        "type": [[round(float(v), 6) for v in row] for row in grid[..., 2]],
    }
    return grid, [
        {
            "x": int(xs[i]),
            "y": int(ys[i]),
            "direction": float(out[ys[i], xs[i], 1]),
            "ending": bool(out[ys[i], xs[i], 2] >= 0.5),
            "nms": float(quality[i]),
            "probability": float(out[ys[i], xs[i], 0]),
        }
        for i in order
    ]


def main():
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_models_dir() / "LEADER.onnx")
    parser.add_argument("--data", type=Path, default=here.parent / "shared" / "data" / "fvc2002")
    parser.add_argument("--out", type=Path,
                        default=here / "extract" / "tests" / "fixtures" / "leader-reference.json")
    args = parser.parse_args()
    if not args.model.is_file():
        raise SystemExit(f"{args.model} not found: run `bash scripts/fetch-models.sh` first")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
    images = []
    for name, ppi in IMAGES:
        img = np.array(Image.open(args.data / name))
        if img.ndim != 2 or img.dtype != np.uint8:
            raise SystemExit(f"{name}: expected 8-bit greyscale, got {img.dtype} {img.shape}")
        if ppi != TARGET_PPI:
            img = resample_to_500ppi(img, ppi)
        grid, minutiae = extract(session, img)
        images.append({
            "file": name,
            "ppi": ppi,
            "width": int(img.shape[1]),
            "height": int(img.shape[0]),
            "pixels_fnv1a64": f"{fnv1a64(img.tobytes()):016x}",
            "minutiae": minutiae,
            "grid": grid,
        })
        print(f"{name}: {img.shape[1]}x{img.shape[0]}, {len(minutiae)} minutiae")
    fixture = {
        "made_by": "scripts/leader-reference.py",
        "runtime": f"onnxruntime {ort.__version__}",
        "threshold": THRESHOLD,
        "max_minutiae": MAX_MINUTIAE,
        "images": images,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, indent=1)
    # One line per minutia and per grid row keeps the fixture short and its diffs readable.
    text = re.sub(r"\{\n\s+(\"x\"[^}]*)\n\s+\}", lambda m: "{" + re.sub(r"\n\s+", " ", m.group(1)) + "}", text)
    text = re.sub(r"\[\n\s+([-0-9.e, \n]*?)\n\s+\]", lambda m: "[" + re.sub(r"\n\s+", " ", m.group(1)) + "]", text)
    args.out.write_text(text + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
