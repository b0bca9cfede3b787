"""Voice activity detection (Silero VAD, shipped in the ``silero-vad`` package) and windows.

Long recordings are read as a stream of 16 kHz blocks, so memory stays
bounded; speech regions are then merged into windows of at most 30 s for
Whisper, cutting only in pauses (as WhisperX does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voli.errors import ModelError

SAMPLE_RATE = 16000  # Hz: Silero and Whisper both work at 16 kHz
BLOCK_S = 600.0  # audio handed to the VAD at a time
MAX_WINDOW_S = 30.0  # Whisper's context


@dataclass(frozen=True)
class Region:
    start: float  # s
    end: float  # s


_model = None


def _load():
    global _model
    if _model is None:
        try:
            from silero_vad import load_silero_vad
        except ImportError as err:
            raise ModelError("voice activity detection needs silero-vad: pip install silero-vad") from err
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load deprecation notice
            _model = load_silero_vad()
    return _model


def speech_regions(blocks, *, threshold: float = 0.5, min_silence_s: float = 0.3, pad_s: float = 0.1) -> list[Region]:
    """Speech regions (s) in a stream of 16 kHz mono float32 blocks (any block sizes)."""
    import torch
    from silero_vad import get_speech_timestamps

    model = _load()
    regions: list[Region] = []
    offset = 0
    pending = np.zeros(0, np.float32)
    block_len = int(BLOCK_S * SAMPLE_RATE)

    def flush(chunk: np.ndarray, at: int):
        model.reset_states()
        stamps = get_speech_timestamps(torch.from_numpy(chunk), model, threshold=threshold, sampling_rate=SAMPLE_RATE,
                                       min_silence_duration_ms=int(min_silence_s * 1000), speech_pad_ms=int(pad_s * 1000))
        for s in stamps:
            regions.append(Region((at + s["start"]) / SAMPLE_RATE, (at + s["end"]) / SAMPLE_RATE))

    for block in blocks:
        pending = np.concatenate([pending, block])
        while len(pending) >= block_len:
            flush(pending[:block_len], offset)
            offset += block_len
            pending = pending[block_len:]
    if len(pending):
        flush(pending, offset)
    return _merge_touching(regions, gap_s=min_silence_s)


def _merge_touching(regions: list[Region], *, gap_s: float) -> list[Region]:
    out: list[Region] = []
    for r in sorted(regions, key=lambda r: r.start):
        if out and r.start - out[-1].end < gap_s:
            out[-1] = Region(out[-1].start, max(out[-1].end, r.end))
        else:
            out.append(r)
    return out


def quietest_point(audio: np.ndarray, *, frame_s: float = 0.1, hop_s: float = 0.02) -> float:
    """The centre (s from the start of ``audio``, 16 kHz) of its quietest ``frame_s`` stretch: where
    speech without a pause is cut with the least chance of cutting a word (a stop's closure, the
    gap between two words)."""
    frame, hop = int(frame_s * SAMPLE_RATE), int(hop_s * SAMPLE_RATE)
    if len(audio) <= frame:
        return len(audio) / 2 / SAMPLE_RATE
    power = np.convolve(audio.astype(np.float64) ** 2, np.ones(frame) / frame, mode="valid")[::hop]
    return (int(np.argmin(power)) * hop + frame / 2) / SAMPLE_RATE


def split_long(regions: list[Region], read, *, max_s: float = MAX_WINDOW_S, shortest_s: float = 0.5) -> list[Region]:
    """Regions no longer than ``max_s``: a longer one (speech without a pause, as real interviews
    have) is cut at its quietest point between ``shortest_s * max_s`` and ``max_s`` from its start,
    again and again. ``read(start, end)`` gives the 16 kHz audio of a stretch (at most ``max_s``
    is read at a time)."""
    out: list[Region] = []
    for r in regions:
        start = r.start
        while r.end - start > max_s:
            lo = start + shortest_s * max_s
            cut = lo + quietest_point(read(lo, start + max_s))
            cut = min(max(cut, lo), start + max_s)
            out.append(Region(start, cut))
            start = cut
        out.append(Region(start, r.end))
    return out


def windows(regions: list[Region], *, max_s: float = MAX_WINDOW_S) -> list[Region]:
    """Group consecutive speech regions into windows of at most ``max_s``; a region longer than
    that (see ``split_long``, which cuts it at a pause) is cut every ``max_s``."""
    out: list[Region] = []
    for r in regions:
        start = r.start
        while r.end - start > max_s:
            out.append(Region(start, start + max_s))
            start += max_s
        piece = Region(start, r.end)
        if out and piece.end - out[-1].start <= max_s and _same_window(out[-1], piece):
            out[-1] = Region(out[-1].start, piece.end)
        else:
            out.append(piece)
    return out


def _same_window(window: Region, region: Region, max_gap_s: float = 2.0) -> bool:
    return region.start - window.end <= max_gap_s


def padded(wins: list[Region], pad_s: float, duration_s: float) -> list[Region]:
    """Windows widened by ``pad_s`` on each side (a word's end that the VAD cut, its onset), never
    past the middle of the gap to the next window nor the recording's ends."""
    out = []
    for i, w in enumerate(wins):
        low = (wins[i - 1].end + w.start) / 2 if i else 0.0
        high = (w.end + wins[i + 1].start) / 2 if i + 1 < len(wins) else duration_s
        out.append(Region(max(low, w.start - pad_s, 0.0), min(high, w.end + pad_s)))
    return out
