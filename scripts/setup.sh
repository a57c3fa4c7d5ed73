#!/usr/bin/env bash
# lumen set-up: Debian packages (PortAudio, JACK, Mesa EGL, OLA, tshark, liblo, ffmpeg)
# and a virtual environment at .venv with lumen and everything its tests use.
# Usage: bash scripts/setup.sh        (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3-venv python3-dev
  libportaudio2 libsndfile1 jackd2                    # real audio streams, headless JACK dummy server
  libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libgbm1 # moderngl on EGL / Mesa llvmpipe
  ola ola-python                                      # olad: an independent sACN / Art-Net receiver
  tshark                                              # independent packet dissection
  liblo-tools                                         # oscsend / oscdump
  ffmpeg                                              # MP4 previews
  iproute2 curl procps                                # private network namespaces for multicast tests
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "lumen setup: installing Debian packages: ${missing[*]}"
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | $SUDO debconf-set-selections
  echo 'jackd2 jackd/tweak_rt_limits boolean false' | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned: this exact release is a CPU build; an unpinned torch pulls a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/lumen --version
echo "lumen setup: done (.venv/bin/lumen)"
