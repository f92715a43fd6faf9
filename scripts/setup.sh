#!/usr/bin/env bash
# Install evalsuite and what it needs: Debian libraries (libopus for Opus, codec2's tools, the
# AMR-NB/AMR-WB and Speex libraries, optionally Chromium for the MUSHRA browser test), torch's CPU
# build first, then the package, then libopus 1.5 (ML decoder) into a private folder for opus_ml.
set -euo pipefail
cd "$(dirname "$0")/.."
apt_pkgs=(libopus0 codec2 libsndfile1 libopencore-amrnb0 libopencore-amrwb0 libvo-amrwbenc0 libspeex1)
[ "${1:-}" = "--with-browser" ] && apt_pkgs+=(chromium chromium-driver)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install ${missing[*]} with your system's package manager" >&2
  fi
fi
# the CPU build of torch first: an unpinned torch would pull gigabytes of CUDA packages
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e '.[test,slurm]'  # slurm: tests/test_slurm.py
# resemblyzer pulls PyPI's webrtcvad 2.0.10, whose module needs pkg_resources (gone from
# setuptools >= 81); webrtcvad-wheels ships the same module without it: install it last
python3 -m pip install -q --force-reinstall --no-deps webrtcvad-wheels
# Debian trixie's libopus 1.5.2 (LACE/NoLACE, deep PLC) unpacked into ~/.local/share/evalsuite/libs
# ($EVALSUITE_LIBS), never installed system-wide; without it opus_ml reports itself unavailable
python3 -m evalsuite.codecs.private_libs opus-1.5 || echo "setup: libopus 1.5 not fetched; codec opus_ml will be unavailable" >&2
