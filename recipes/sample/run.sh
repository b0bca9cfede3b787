#!/usr/bin/env bash
# voli sample recipe: the pipeline on corpora_sample, on the CPU, in minutes.
#
# Inputs:  corpora_sample/{recordings.csv,speakers.csv,audio/}
# Outputs: exp/sample/NN_<stage>/ (tables, failures.parquet, config.yaml, .done)
#
# Usage:   recipes/sample/run.sh [--stage NAME] [--stop-stage NAME] [--device auto|cpu|cuda:N]
# Safe to rerun: finished recordings are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=prepare
stop_stage=""
device=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

args=(run corpora_sample --workdir exp/sample --stage "$stage" --device "$device")
[ -n "$stop_stage" ] && args+=(--stop-stage "$stop_stage")
exec .venv/bin/voli "${args[@]}"
