"""Audio decoding, resampling and chunked reads (soundfile + soxr).

Long interviews are read in blocks, so memory stays bounded whatever the
file's length. Samples are float32 in [-1, 1]; channel numbers are 1-based,
as users count them.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from voli.errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
# Hz: the one rate voli analyses audio at, whatever the file's: Whisper's and Silero's, and its
# Nyquist frequency (8 kHz) is above the highest formant ceiling. Every stage reads audio at it.
SAMPLE_RATE = 16000
BLOCK_S = 30.0  # default block length for chunked reads, seconds
CLIP_LEVEL = 0.999  # |sample| at or above this counts as clipped (full scale = 1)


@dataclass(frozen=True)
class AudioInfo:
    path: str
    format: str  # WAV, FLAC, MP3, OGG
    sample_rate: int  # Hz
    channels: int
    n_frames: int  # samples per channel

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sample_rate


@dataclass(frozen=True)
class AudioStats:
    peak_dbfs: float
    rms_dbfs: float
    clipped_fraction: float
    sha256: str


@contextmanager
def quiet_decoder(audio_format: str | None):
    """Silence the C decoder's own messages on standard error while an MP3 is read.

    libsndfile decodes MP3 with libmpg123, which prints "part2_3_length ... too large" when a read
    starts inside a frame whose bit reservoir lies in the previous one, although the samples it
    returns are right (checked against ffmpeg: 1e-6 apart). Only file descriptor 2 is redirected,
    only for MP3 and only around the call; Python's own stderr is flushed first. Standard error is
    per process: anything another thread writes there meanwhile is lost too (voli's stages write
    from one thread).
    """
    if audio_format != "MP3":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _convert_hint(path: Path) -> str:
    return f"convert it, e.g. `ffmpeg -i {path.name} -c:a flac {path.stem}.flac`"


def probe(path: str | os.PathLike) -> AudioInfo:
    """Read an audio file's header.

    Raises
    ------
    AudioError
        If the file is missing, empty, in an unsupported format or corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: audio file not found; check the path in recordings.csv")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: audio file is empty (0 bytes); replace it with the real recording")
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise AudioError(
            f"{path}: unsupported audio type {path.suffix!r} (voli reads {', '.join(AUDIO_EXTENSIONS)}); "
            + _convert_hint(path)
        )
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: cannot read audio ({err}); the file may be corrupt: " + _convert_hint(path)) from err
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"{path}: audio holds no samples; replace it with the real recording")
    return AudioInfo(str(path), info.format, int(info.samplerate), int(info.channels), int(info.frames))


def iter_blocks(path: str | os.PathLike, *, block_s: float = BLOCK_S) -> Iterator[np.ndarray]:
    """Yield the file's samples in blocks of shape (frames, channels), float32."""
    info = probe(path)
    blocksize = max(1, int(round(block_s * info.sample_rate)))
    try:
        with sf.SoundFile(str(path)) as fh:
            while True:
                with quiet_decoder(info.format):
                    block = fh.read(blocksize, dtype="float32", always_2d=True)
                if len(block) == 0:
                    return
                yield block
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: decoding failed part-way ({err}); the file may be truncated: " + _convert_hint(Path(path))) from err


def scan(path: str | os.PathLike, *, clip_level: float = CLIP_LEVEL) -> AudioStats:
    """Decode the whole file once, in blocks: level statistics and a content hash.

    Decoding everything up front finds a corrupt or truncated file at
    ``prepare`` rather than hours later in transcription.
    """
    peak = 0.0
    sum_sq = 0.0
    n = 0
    n_clipped = 0
    for block in iter_blocks(path):
        a = np.abs(block)
        peak = max(peak, float(a.max()))
        sum_sq += float(np.square(block, dtype=np.float64).sum())
        n += block.size
        n_clipped += int((a >= clip_level).sum())
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    rms = math.sqrt(sum_sq / n) if n else 0.0
    return AudioStats(
        peak_dbfs=_dbfs(peak),
        rms_dbfs=_dbfs(rms),
        clipped_fraction=n_clipped / n if n else 0.0,
        sha256=digest.hexdigest(),
    )


def _dbfs(x: float) -> float:
    return 20.0 * math.log10(x) if x > 0 else -math.inf


def _select(block: np.ndarray, channel: int | None) -> np.ndarray:
    if channel is None:
        return block.mean(axis=1)
    return block[:, channel - 1]


def iter_resampled(
    path: str | os.PathLike,
    *,
    sample_rate: int = SAMPLE_RATE,
    channel: int | None = None,
    block_s: float = BLOCK_S,
) -> Iterator[np.ndarray]:
    """Yield mono float32 blocks at ``sample_rate``, resampled as a stream.

    Parameters
    ----------
    channel : int or None
        1-based channel to keep; ``None`` averages all channels.
    """
    import soxr

    info = probe(path)
    if channel is not None and not 1 <= channel <= info.channels:
        raise AudioError(f"{path}: channel {channel} requested but the file has {info.channels} channel(s)")
    if info.sample_rate == sample_rate:
        for block in iter_blocks(path, block_s=block_s):
            yield np.ascontiguousarray(_select(block, channel), dtype=np.float32)
        return
    stream = soxr.ResampleStream(info.sample_rate, sample_rate, 1, dtype="float32", quality="HQ")
    blocks = iter_blocks(path, block_s=block_s)
    block = next(blocks, None)
    while block is not None:
        following = next(blocks, None)
        out = stream.resample_chunk(np.ascontiguousarray(_select(block, channel), dtype=np.float32), last=following is None)
        if len(out):
            yield out
        block = following


def load(
    path: str | os.PathLike,
    *,
    sample_rate: int = SAMPLE_RATE,
    channel: int | None = None,
) -> np.ndarray:
    """Decode a whole file to a mono float32 array at ``sample_rate`` (Hz).

    For long files prefer :func:`iter_resampled`, which keeps memory bounded.
    """
    blocks = list(iter_resampled(path, sample_rate=sample_rate, channel=channel))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def write(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> Path:
    """Write samples (frames,) or (frames, channels) to a file; format from the extension."""
    from voli.io.tables import atomic_path

    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3", ".ogg": "OGG"}.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(f"{path}: cannot write audio type {path.suffix!r}; use .wav, .flac, .mp3 or .ogg")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), samples, sample_rate, format=fmt)
    return path
