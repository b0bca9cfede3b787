#!/usr/bin/env bash
# Install the Debian packages voli needs, or say exactly how to.
#   espeak-ng: G2P and speech synthesis for the sample corpus and the lexicon
#   praat:     to prove TextGrids open in the real Praat
#   ffmpeg:    audio conversion; sox: audio utilities
set -euo pipefail
PACKAGES="espeak-ng libespeak-ng1 praat ffmpeg sox"
missing=""
for cmd in espeak-ng praat ffmpeg sox; do
  command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
[ -z "$missing" ] && exit 0
echo "voli: missing system programs:$missing" >&2
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "voli: installing $PACKAGES with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES >/dev/null
else
  echo "voli: install them first, then rerun:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y $PACKAGES" >&2
  exit 1
fi
