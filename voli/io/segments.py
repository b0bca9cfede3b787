"""Stretches of a prepared recording, read in time order at 16 kHz (bounded memory).

Every stage after ``prepare`` reads speech this way: transcription (its speech windows),
alignment (each utterance with a margin) and the acoustic measures.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from voli.errors import AudioError
from voli.io.audio import SAMPLE_RATE, quiet_decoder
from voli.schema import Recording

SR = SAMPLE_RATE  # Hz: what read() returns


class SegmentReader:
    """Reads [start, end) stretches of one recording at 16 kHz, moving forward through the file.

    WAV and FLAC seek exactly; MP3 seeking in libsndfile is approximate, so MP3 is
    decoded forward from the last position (with libmpg123's messages silenced).
    """

    def __init__(self, rec: Recording):
        self.rec = rec
        self.fh = None
        self.pos = 0

    def _open(self):
        try:
            self.fh = sf.SoundFile(self.rec.audio_path)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"{self.rec.audio_path}: cannot open ({err})") from err
        self.pos = 0

    def frames(self, start: float, end: float) -> np.ndarray:
        """Samples of [start, end) s at the file's own rate, all channels: shape (frames, channels)."""
        rec = self.rec
        a = max(0, int(start * rec.sample_rate))
        b = min(rec.n_frames, int(np.ceil(end * rec.sample_rate)))
        if self.fh is None or (rec.audio_format == "MP3" and a < self.pos):
            if self.fh is not None:
                self.fh.close()
            self._open()
        try:
            with quiet_decoder(rec.audio_format):
                if rec.audio_format == "MP3":
                    while self.pos < a:  # decode forward to the start
                        skipped = len(self.fh.read(min(a - self.pos, 1 << 18), dtype="float32", always_2d=True))
                        if not skipped:
                            break
                        self.pos += skipped
                else:
                    self.fh.seek(a)
                    self.pos = a
                x = self.fh.read(max(0, b - a), dtype="float32", always_2d=True)
            self.pos += len(x)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"{rec.audio_path}: cannot read {start:.1f}-{end:.1f} s ({err})") from err
        return x

    def to_16k(self, samples: np.ndarray) -> np.ndarray:
        import soxr

        if self.rec.sample_rate != SR:
            samples = soxr.resample(samples, self.rec.sample_rate, SR)
        return np.ascontiguousarray(samples, dtype=np.float32)

    def read(self, start: float, end: float, channel: int | None) -> np.ndarray:
        """One channel (1-based) or the mix (None) of [start, end) s, at 16 kHz."""
        x = self.frames(start, end)
        return self.to_16k(x.mean(axis=1) if channel is None else x[:, channel - 1])

    def close(self):
        if self.fh is not None:
            self.fh.close()
