"""Which numeric code paths voli pins, and what it records about the machine that ran a stage.

What is reproducible where (measured; the README says the same):

* **One machine, one install**: the same input and config give byte-identical tables
  (tests/test_resume_and_ray.py, tests/test_runner.py). Thread counts do not change
  CTranslate2's transcripts (1, 2 and 4 threads: bench/cpu_paths.py --threads 2,4); torch's
  float results can depend on them, so runs compared byte for byte use the same ``OMP_NUM_THREADS``.
* **Across x86-64 CPUs**: CTranslate2 (Whisper on the CPU), oneDNN, MKL and torch choose their
  kernels by CPU. oneDNN's int8 matrix products use AVX-512 VNNI where a CPU has it and AVX2 (with
  16-bit intermediate sums) where it does not, so an AVX-512 machine and an AVX2-only one take
  different paths. At import, voli pins each of these libraries to its AVX2 path (:data:`PINS`),
  which every x86-64 CPU of the last ten years has, so that all machines run the same kernels.
  Measured on an AVX-512 AMD EPYC (corpora_sample, Whisper base): the pins change 1.1 % of the
  words and cost no accuracy (WER es 3.5 / fr 17.1 / pt 6.5 % pinned, 4.4 / 17.8 / 8.9 % native)
  and hardly any speed (7.3x against 7.6x real time on one thread; bench/cpu_paths.py). They do not make transcripts identical across CPUs: under an emulated
  AVX2-only EPYC (``qemu-x86_64 -cpu EPYC-Rome-v2``) 4.8 % of the words still differ from the pinned
  run (bench/cpu_paths.py), as oneDNN also sizes its blocks by the CPU's caches, CPUs round approximate
  instructions differently, and a small difference tips a window over one of Whisper's decoding
  thresholds. Tests on Whisper output therefore assert the spoken words and WER
  within margins that hold on both. ``VOLI_NATIVE_CPU=1`` turns the pins off.
* **What cannot be pinned**: onnxruntime's MLAS kernels (Kokoro speech synthesis in ``voli
  simulate``) and numpy's OpenBLAS choose per CPU with no switch that holds across CPUs, so a
  regenerated corpus's audio can differ between CPUs (tests/test_sample.py compares it within a
  tolerance, and its text exactly).

Each stage's ``config.yaml`` records :func:`machine_description`: the CPU model and vector
extensions, the pins in force, and the kernels torch and numpy's BLAS report using.
"""

from __future__ import annotations

import os
import platform
import sys

# environment variable -> value; each library reads its variable once, at its first computation,
# so these must be set before torch, CTranslate2 or MKL compute anything (voli/__init__ does it)
PINS = {
    "CT2_USE_MKL": "0",  # CTranslate2 uses MKL on Intel CPUs only: use oneDNN on every CPU
    "CT2_FORCE_CPU_ISA": "AVX2",  # CTranslate2's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (CTranslate2's int8 GEMM, torch's mkldnn): no AVX-512 / VNNI kernels
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's vectorised CPU kernels
    "MKL_CBWR": "AVX2",  # MKL's conditional numerical reproducibility branch (torch's BLAS)
}
OPT_OUT = "VOLI_NATIVE_CPU"  # set to 1: leave every library to pick its kernels for this CPU


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where it is missing)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break  # the end of the first processor
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty where /proc/cpuinfo is missing)."""
    return set(_cpuinfo().get("flags", "").split())


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def pin_cpu_kernels() -> dict[str, str]:
    """Set :data:`PINS` in the environment where the user has not set them; returns those in force.

    Only on x86-64 CPUs with AVX2 (CTranslate2 refuses to force an ISA the CPU lacks), and not
    when ``VOLI_NATIVE_CPU=1``. A variable the user set keeps the user's value.
    """
    if os.environ.get(OPT_OUT, "") not in ("", "0"):
        return {}
    if platform.machine().lower() not in ("x86_64", "amd64") or "avx2" not in cpu_flags():
        return {}
    for name, value in PINS.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in PINS}


VECTOR_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile")


def machine_description() -> dict:
    """What a stage's numbers may depend on beyond the input, the config and library versions:
    the CPU, the pins in force and the kernels that torch and numpy's BLAS report using."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    out = {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "vector_extensions": [f for f in VECTOR_FLAGS if f in flags],
        "pins": {name: os.environ[name] for name in PINS if name in os.environ},
        "native_cpu": os.environ.get(OPT_OUT, "") not in ("", "0"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    if "torch" in sys.modules:  # only where the stage used torch: importing it here would cost seconds
        torch = sys.modules["torch"]
        out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        out["torch_threads"] = torch.get_num_threads()
    from threadpoolctl import threadpool_info  # comes with scikit-learn

    out["blas"] = [{k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                   for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return out
