"""Stand-in for numba on the GPU check machine only (bench/gpu_check.sh puts it on the path there).

openai-whisper imports numba for one thing: compiling its CPU dynamic time warping (word times).
numba needs llvmlite, a 60 MB wheel that does not fit beside the model in the 64 MiB a check may
carry. On a GPU, whisper times words with its Triton kernel instead, so the compiled CPU version is
not needed; should whisper fall back to the CPU one, it runs as plain Python here (slower, same
result). bench/gpu_check.sh says when this stand-in is in use. Never installed with voli.
"""


def jit(*args, **kwargs):
    """numba.jit as a no-op decorator, with or without arguments."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda function: function
