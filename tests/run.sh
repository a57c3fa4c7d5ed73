#!/usr/bin/env bash
# lumen's test command: starts a headless JACK server (dummy driver, real clock) for the
# real-PortAudio tests, runs the whole suite, stops the server. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export JACK_DEFAULT_SERVER="${JACK_DEFAULT_SERVER:-lumen-ci}" JACK_NO_AUDIO_RESERVATION=1
export PYTHONHASHSEED=0
jack_pid=""
cleanup() { if [ -n "$jack_pid" ]; then kill "$jack_pid" 2>/dev/null || true; wait "$jack_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
# `jack_wait -c` exits 0 either way; it prints "running" or "not running".
if [ "$(jack_wait -c -s "$JACK_DEFAULT_SERVER" 2>/dev/null)" != "running" ]; then
  jackd -R -d dummy -r 48000 -p 256 -C 2 -P 2 >"${TMPDIR:-/tmp}/lumen-jackd.log" 2>&1 &
  jack_pid=$!
  timeout 10 jack_wait -w -s "$JACK_DEFAULT_SERVER" >/dev/null
fi
.venv/bin/python -m pytest "$@"
