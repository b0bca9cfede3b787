#!/usr/bin/env bash
# Pack what the GPU check machine lacks into .gpu_pack/ (git-ignored), for bench/gpu_check.sh.
#
# That machine has Python 3.12 with torch + CUDA, numpy, pandas, scipy, statsmodels, scikit-learn and
# onnxruntime, and nothing can be downloaded there. A call carries at most 64 MiB: the working tree
# (about 7 MiB) plus this folder, which holds
#   wheels/                  the Python 3.12 wheels of openai-whisper (built here from its sdist),
#                            tiktoken, regex, more-itertools, tqdm, soundfile (+ cffi, pycparser),
#                            soxr, PyYAML and pytest (+ pluggy, iniconfig, packaging, Pygments), at the versions
#                            of requirements.lock;
#   whisper-tiny.en.int8.pt  Whisper tiny.en with int8 weights (bench/gpu_pack.py: 36 MiB; float16
#                            would be 76 MB, more than a call carries).
# numba (60 MB with llvmlite) does not fit: gpu_check.sh puts bench/gpu/numba, a stand-in, on the path.
#
#   bash bench/gpu_pack.sh                 # for the GPU machine (Python 3.12)
#   bash bench/gpu_pack.sh --python 3.11   # to try the packed run on this machine's Python
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=3.12
[ "${1:-}" = "--python" ] && PYVER=$2
OUT=.gpu_pack
PIP=".venv/bin/python -m pip"
[ -x .venv/bin/python ] || { echo "gpu_pack: run 'make install' first (.venv is missing)" >&2; exit 2; }
rm -rf "$OUT/wheels"
mkdir -p "$OUT/wheels"
specs=""
for name in tiktoken regex more-itertools tqdm soundfile cffi pycparser soxr PyYAML pytest pluggy iniconfig packaging Pygments; do
  line=$(grep -i "^${name}==" requirements.lock) || { echo "gpu_pack: $name is not in requirements.lock" >&2; exit 2; }
  specs="$specs $line"
done
$PIP download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$OUT/wheels" $specs 2> >(grep -v "^WARNING: Location" >&2)
$PIP wheel -q --no-deps -w "$OUT/wheels" "$(grep '^openai-whisper==' requirements.lock)" 2> >(grep -v "^WARNING: Location" >&2)
[ -f "$OUT/whisper-tiny.en.int8.pt" ] || .venv/bin/python bench/gpu_pack.py "$OUT/whisper-tiny.en.int8.pt"
echo "$PYVER" > "$OUT/python-version"
tracked=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
packed=$(du -sb "$OUT" | cut -f1)
echo "gpu_pack: $OUT holds $((packed / 1048576)) MiB for Python $PYVER; with the working tree $(((packed + tracked) / 1048576)) MiB of the 64 MiB a call carries"
[ $((packed + tracked)) -lt $((64 * 1048576)) ] || { echo "gpu_pack: too large to carry" >&2; exit 1; }
