#!/usr/bin/env bash
# The GPU check: every GPU figure voli reports, in one go (a few minutes on one GPU; under 8).
#
#   1. the requires_cuda tests: alignment, pitch, formant and intensity kernels give the CPU's results
#      on the GPU (tests/test_align.py, tests/test_features_kernels.py, tests/test_device_config.py);
#   2. bench/gpu_bench.py: each kernel's speed on the GPU against the CPU on the same inputs, with
#      their agreement, and batched Whisper (tiny.en) against whisper.transcribe on the GPU.
#
# Here, first:      bash bench/gpu_pack.sh          (writes .gpu_pack/, git-ignored)
# On the GPU machine (the device tool, from the repository root), carrying .gpu_pack:
#                   bash bench/gpu_check.sh
# On this CPU:      bash bench/gpu_check.sh --device cpu     (the same steps, small sizes: about 2 min;
#                   the CUDA tests report "skipped")
#
# Packages the machine lacks are unpacked from .gpu_pack/wheels into a temporary folder (no pip, no
# network); a package it already has is used as it is.
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=cuda
[ "${1:-}" = "--device" ] && DEVICE=$2
PY=${PYTHON:-python3}  # PYTHON=... picks the interpreter; here, voli's .venv unless told otherwise
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && PY=.venv/bin/python
SITE=$(mktemp -d)
trap 'rm -rf "$SITE"' EXIT
start=$(date +%s)

if [ -d .gpu_pack/wheels ]; then
  "$PY" - "$SITE" .gpu_pack/wheels/*.whl <<'PYEOF'
import importlib.util, sys, zipfile


def importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


site, wheels = sys.argv[1], sys.argv[2:]
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        tops = {n.split("/")[0].split(".")[0] for n in z.namelist() if ".dist-info/" not in n and ".data/" not in n}
        tops = {t for t in tops if t and t != "__pycache__"}
        if any(importable(t) for t in tops):  # the machine has it: keep its own
            continue
        z.extractall(site)
        print(f"gpu_check: unpacked {wheel.rsplit('/', 1)[-1]}")
PYEOF
fi
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c "import numba" 2>/dev/null; then
  export PYTHONPATH="$PYTHONPATH:$PWD/bench/gpu"
  echo "gpu_check: numba is missing: openai-whisper gets the stand-in of bench/gpu/numba (GPU word times use Triton)"
fi
export VOLI_CACHE="${VOLI_CACHE:-$SITE/cache}"

echo "== 1. CUDA tests"
"$PY" -m pytest -q -p no:cacheprovider -o addopts="-ra" -m requires_cuda \
  tests/test_align.py tests/test_features_kernels.py tests/test_device_config.py
tests=$?

echo "== 2. speed and agreement, $DEVICE against the CPU"
if [ "$DEVICE" = cpu ]; then
  "$PY" bench/gpu_bench.py --device cpu --quick
else
  "$PY" bench/gpu_bench.py --device "$DEVICE"
fi
bench=$?
echo "gpu_check: tests exit $tests, bench exit $bench, $(( $(date +%s) - start )) s"
[ $tests -eq 0 ] && [ $bench -eq 0 ]
