#!/usr/bin/env python3
"""Peer benchmark: FAISS IndexFlatIP (exact inner-product search) on one core.

Run by `abis-bench face-batch` on the same gallery and probes as its own f32 and i8 kernels:

    python3 benches/peers/faiss_flat_ip.py --gallery G.f32 --probes P.f32 --dim 512 --k 10 --reps 5

Both files are raw little-endian float32, row-major, `dim` floats per row. The script builds an
IndexFlatIP over the gallery, runs one warm-up search, then times `index.search(probes, k)`
`reps` times and prints one JSON object: {"median_s", "records", "probes", "k", "faiss_version",
"blas_threshold", "openblas_env"}. Only the search is timed (it includes FAISS's own top-k
selection); loading and adding the gallery are not.

`--blas-threshold N` sets faiss.cvar.distance_compute_blas_threshold: batches of at least N
queries go through BLAS sgemm plus a heap per query, smaller ones through FAISS's own SIMD loop
(one query against every row). FAISS 1.15's default is 128,000, so a 64-query batch takes the SIMD
loop unless the threshold is lowered (older releases defaulted to 20). abis-bench runs both.

Install the peer with: pip install faiss-cpu numpy

One thread: OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS are set to 1 before FAISS
is imported (unless already set) and faiss.omp_set_num_threads(1) is called. OPENBLAS_CORETYPE
or OPENBLAS_L2_SIZE, if present in the environment, are reported back in "openblas_env" because
they can change the BLAS kernel FAISS's search runs on.
"""

import argparse
import json
import os
import statistics
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

try:
    import faiss  # noqa: E402
except ImportError:
    sys.exit("faiss is not installed: pip install faiss-cpu numpy")


def load(path, dim):
    data = np.fromfile(path, dtype="<f4")
    if data.size % dim != 0:
        sys.exit(f"{path}: {data.size} floats is not a whole number of {dim}-d rows")
    return np.ascontiguousarray(data.reshape(-1, dim), dtype=np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gallery", required=True)
    ap.add_argument("--probes", required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--blas-threshold", type=int, default=None,
                    help="faiss.cvar.distance_compute_blas_threshold (default: FAISS's own)")
    args = ap.parse_args()

    faiss.omp_set_num_threads(1)
    if args.blas_threshold is not None:
        faiss.cvar.distance_compute_blas_threshold = args.blas_threshold
    gallery = load(args.gallery, args.dim)
    probes = load(args.probes, args.dim)
    index = faiss.IndexFlatIP(args.dim)
    index.add(gallery)

    index.search(probes, args.k)  # warm-up
    times = []
    for _ in range(max(1, args.reps)):
        t = time.perf_counter()
        index.search(probes, args.k)
        times.append(time.perf_counter() - t)

    print(json.dumps({
        "median_s": statistics.median(times),
        "records": int(gallery.shape[0]),
        "probes": int(probes.shape[0]),
        "k": args.k,
        "faiss_version": faiss.__version__,
        "blas_threshold": int(faiss.cvar.distance_compute_blas_threshold),
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
    }))


if __name__ == "__main__":
    main()
