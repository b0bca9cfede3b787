"""voli: speech-corpus processing for sociolinguistics.

Stages, in order: prepare -> transcribe -> align -> features -> profile.
Each stage is a plain function over tables; :mod:`voli.runner` handles files,
resume and failures, and :mod:`voli.cli` parses arguments.

Importing voli pins CTranslate2, oneDNN, MKL and torch to their AVX2 kernels, so that every x86-64
CPU runs the same kernels (transcripts can still differ in a few words between CPUs: see
:mod:`voli.reproducibility`; ``VOLI_NATIVE_CPU=1`` turns the pins off).
"""

from voli.reproducibility import pin_cpu_kernels as _pin_cpu_kernels

__version__ = "0.1.0"

_pin_cpu_kernels()
