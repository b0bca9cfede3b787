#!/usr/bin/env bash
# Install the Debian packages voli needs, or say exactly how to.
#   espeak-ng: G2P and speech synthesis for the sample corpus and the lexicon
#   praat:     to prove TextGrids open in the real Praat
#   ffmpeg:    audio conversion; sox: audio utilities
#   chromium, chromium-driver: the test that drives `voli browse`'s page in a real browser
#   r-cran-lmertest: R with lme4 and lmerTest, the reference engine of `voli profile`'s mixed models
#   r-cran-pbkrtest: Kenward-Roger df for between-speaker terms; r-cran-emmeans: adjusted level means
#   r-cran-mgcv: the GAMMs of the vowel-dynamics models (formant trajectories against the survey)
set -euo pipefail
PACKAGES="espeak-ng libespeak-ng1 praat ffmpeg sox chromium chromium-driver r-cran-lmertest r-cran-pbkrtest r-cran-emmeans r-cran-mgcv"
missing=""
for cmd in espeak-ng praat ffmpeg sox chromium chromedriver; do
  command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
Rscript -e 'suppressPackageStartupMessages({library(lmerTest); library(pbkrtest); library(emmeans); library(mgcv)})' >/dev/null 2>&1 || missing="$missing lmerTest/pbkrtest/emmeans/mgcv(R)"
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
