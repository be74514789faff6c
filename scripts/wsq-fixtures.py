#!/usr/bin/env python3
"""Makes the WSQ test fixtures of abis-wsq with an independent codec (NIST NBIS, through PyPI).

    python3 scripts/wsq-fixtures.py [--data ../shared/data/fvc2002] [--out wsq/tests/fixtures]

Two PyPI packages wrap NBIS's WSQ codec, each with its bit rate fixed in its C glue:
`wsq==0.9` encodes at 0.75 bits per pixel, `wsq2==1.0.0` at 2.0. Each is installed into its own
throw-away virtualenv under /tmp (nothing is installed into the project), and this script runs
itself again inside each as a worker that crops the FVC2002 images, encodes them with
`_wsq.compress` and decodes the result with `_wsq.decompress` of the same package, writing
`<name>.wsq` and the independent decoder's pixels as `<name>.pgm` (binary P5).
"""
import argparse
import os
import subprocess
import sys

# (package pin, virtualenv folder, bit rate the package's glue hard-codes, file name tag)
CODECS = [
    ("wsq==0.9", "/tmp/abis-wsq-fixtures-venv-wsq", 0.75, "br075"),
    ("wsq2==1.0.0", "/tmp/abis-wsq-fixtures-venv-wsq2", 2.0, "br200"),
]

# (FVC2002 database folder, image, crop box (left, top, width, height)). The crop sizes are
# chosen so that odd lengths turn up at different levels of the 64-subband decomposition.
IMAGES = [
    ("DB1_B", "101_1.tif", (60, 60, 257, 243)),
    ("DB2_B", "102_3.tif", (36, 120, 224, 301)),
    ("DB3_B", "103_2.tif", (12, 25, 275, 250)),
]


def worker(data_dir, out_dir, bitrate, tag):
    import _wsq  # the NBIS extension module both packages install
    from PIL import Image

    for db, name, (left, top, width, height) in IMAGES:
        image = Image.open(os.path.join(data_dir, db, name)).convert("L")
        crop = image.crop((left, top, left + width, top + height))
        raw = crop.tobytes()
        encoded = _wsq.compress(raw, height, width, bitrate)
        pixels, cols, rows, ppi = _wsq.decompress(encoded)
        assert (cols, rows) == (width, height), (cols, rows, width, height)
        assert len(pixels) == width * height
        stem = f"{db.lower()}_{name.split('.')[0]}_{tag}"
        with open(os.path.join(out_dir, stem + ".wsq"), "wb") as f:
            f.write(encoded)
        with open(os.path.join(out_dir, stem + ".pgm"), "wb") as f:
            f.write(b"P5\n%d %d\n255\n" % (width, height))
            f.write(pixels)
        print(f"{stem}: {width}x{height}, {len(encoded)} bytes WSQ, ppi {ppi}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "fvc2002"))
    parser.add_argument("--out", default=os.path.join(root, "wsq", "tests", "fixtures"))
    parser.add_argument("--worker", nargs=2, metavar=("BITRATE", "TAG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.data, args.out, float(args.worker[0]), args.worker[1])
        return
    os.makedirs(args.out, exist_ok=True)
    for pin, venv, bitrate, tag in CODECS:
        python = os.path.join(venv, "bin", "python")
        if not os.path.exists(python):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", pin], check=True)
        subprocess.run(
            [python, os.path.abspath(__file__), "--data", args.data, "--out", args.out,
             "--worker", str(bitrate), tag],
            check=True,
        )


if __name__ == "__main__":
    main()
