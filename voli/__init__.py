"""voli: speech-corpus processing for sociolinguistics.

Stages, in order: prepare -> transcribe -> align -> features -> profile.
Each stage is a plain function over tables; :mod:`voli.runner` handles files,
resume and failures, and :mod:`voli.cli` parses arguments.
"""

__version__ = "0.1.0"
