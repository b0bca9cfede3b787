"""Voice activity detection (Silero VAD, shipped in the ``silero-vad`` package) and windows.

Long recordings are read as a stream of 16 kHz blocks, so memory stays
bounded; speech regions are then grouped into windows of at most 30 s of audio
for Whisper, cut only in pauses (as WhisperX does), long pauses left out (as
faster-whisper's VAD filter does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voli.errors import ModelError
from voli.io.audio import SAMPLE_RATE  # Hz: Silero and Whisper both work at 16 kHz

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


FRAME = 512  # samples per Silero VAD decision at 16 kHz (32 ms)
FRAME_S = FRAME / SAMPLE_RATE
PAUSE_MARGIN = 0.15  # a frame is non-speech under threshold - this (Silero's own neg_threshold)


def speech_regions(blocks, *, threshold: float = 0.5, min_silence_s: float = 0.3, pad_s: float = 0.1,
                   frames: list | None = None) -> list[Region]:
    """Speech regions (s) in a stream of 16 kHz mono float32 blocks (any block sizes).

    ``frames``: a list that gets Silero's speech probability of every FRAME_S frame of the
    stream, in order (the regions are drawn from them; the transcription reads them again for
    pauses inside regions, ``onset_after_pause``)."""
    import torch
    from silero_vad.utils_vad import get_speech_timestamps_from_probs

    model = _load()
    regions: list[Region] = []
    offset = 0
    pending = np.zeros(0, np.float32)
    block_len = int(BLOCK_S * SAMPLE_RATE) // FRAME * FRAME  # whole frames: the probabilities stay on one grid

    def flush(chunk: np.ndarray, at: int):
        model.reset_states()
        audio = torch.from_numpy(chunk)
        last = torch.nn.functional.pad(audio[len(chunk) // FRAME * FRAME:], (0, -len(chunk) % FRAME))
        with torch.no_grad():  # silero_vad.get_speech_timestamps' loop (the last frame zero-padded), kept
            probs = [model(audio[i: i + FRAME] if i + FRAME <= len(chunk) else last, SAMPLE_RATE).item()
                     for i in range(0, len(chunk), FRAME)]
        if frames is not None:
            frames.extend(probs)
        stamps = get_speech_timestamps_from_probs(probs, sampling_rate=SAMPLE_RATE, threshold=threshold,
                                                  min_silence_duration_ms=int(min_silence_s * 1000),
                                                  speech_pad_ms=int(pad_s * 1000), audio_length_samples=len(chunk))
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


PAUSE_FRAMES = 3  # non-speech this long (96 ms) inside a word is a pause, longer than a stop's closure
LEAD_S = 0.15  # a word's start at most this far before a pause belongs after it
ONSET_S = 0.03  # a start moved past a pause goes this far before Silero's next speech frame (its decisions lag)


def onset_after_pause(start: float, end: float, probs: np.ndarray, threshold: float = 0.5,
                      min_word_s: float = 0.02) -> float:
    """A word's start (s), moved past a pause that Whisper's timing put at the word's beginning.

    Whisper's cross-attention timing starts a word after a pause too early, inside the pause (a
    filled pause after a silence started at the end of the word before it). Where ``probs``
    (Silero's speech probability per FRAME_S frame, from ``speech_regions``) hold a pause of at
    least PAUSE_FRAMES non-speech frames (under ``threshold`` - PAUSE_MARGIN) that begins at most
    LEAD_S after ``start`` and ends before ``end``, the word starts ONSET_S before the speech after
    it. Ends are left alone (moving them the same way made them no better on corpora_sample)."""
    # only the word's frames and the PAUSE_FRAMES before it are read (a pause must end inside the
    # word, and one that began earlier only needs to be long enough): the same cost for every word
    # of a two-hour recording
    if not (np.isfinite(start) and np.isfinite(end)):
        return start
    lo = max(int(start / FRAME_S) - PAUSE_FRAMES, 0)
    hi = min(int(np.ceil(end / FRAME_S)) + 1, len(probs))
    quiet = np.asarray(probs[lo:hi]) < max(threshold - PAUSE_MARGIN, 0.01)  # Silero's neg_threshold
    i, last = max(int(start / FRAME_S), 0) - lo, hi - lo - 1
    while i < last:
        if not quiet[i]:
            i += 1
            continue
        first = i
        while first > 0 and quiet[first - 1]:
            first -= 1
        j = i
        while j < len(quiet) and quiet[j]:
            j += 1
        if (j - first >= PAUSE_FRAMES and (lo + first) * FRAME_S - start < LEAD_S
                and (lo + j) * FRAME_S < end - min_word_s):
            start = max(start, (lo + j) * FRAME_S - ONSET_S)
        i = j
    return start


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


MAX_GAP_S = 2.0  # a pause longer than this between two regions is left out of a window's audio


@dataclass(frozen=True)
class Window:
    """What Whisper hears at once: stretches of the recording (``pieces``, padded speech, in time
    order) played one after the other. A pause longer than ``MAX_GAP_S`` between two speech
    regions is left out, as faster-whisper's VAD filter leaves it out: a short answer after a long
    silence ("Yes.") is heard with the speech around it, not alone in a window, and Whisper never
    hears long silences (where it writes words that were not said)."""

    pieces: tuple[Region, ...]

    @property
    def start(self) -> float:
        return self.pieces[0].start

    @property
    def end(self) -> float:
        return self.pieces[-1].end

    @property
    def duration(self) -> float:
        """Seconds of audio Whisper hears."""
        return sum(p.end - p.start for p in self.pieces)

    def audio(self, read) -> np.ndarray:
        """The window's 16 kHz audio; ``read(start, end)`` gives a stretch of the recording."""
        return np.concatenate([read(p.start, p.end) for p in self.pieces])

    def piece_at(self, t: float) -> int:
        """The piece that holds ``t`` s of the window's audio (the last one past its end)."""
        offset = 0.0
        for i, p in enumerate(self.pieces):
            offset += p.end - p.start
            if t < offset:
                return i
        return len(self.pieces) - 1

    def to_recording(self, t: float, piece: int | None = None) -> float:
        """A time in the window's audio as a time in the recording, in piece ``piece`` (default:
        the piece that holds it; a time outside that piece is clamped to it)."""
        piece = self.piece_at(t) if piece is None else piece
        before = sum(p.end - p.start for p in self.pieces[:piece])
        p = self.pieces[piece]
        return min(max(p.start + t - before, p.start), p.end)

    def from_recording(self, region: Region) -> list[tuple[float, float]]:
        """A stretch of the recording as the (start, end) s of the window's audio that hold it."""
        out, offset = [], 0.0
        for p in self.pieces:
            s, e = max(region.start, p.start), min(region.end, p.end)
            if e > s:
                out.append((offset + s - p.start, offset + e - p.start))
            offset += p.end - p.start
        return out


def windows(regions: list[Region], *, max_s: float = MAX_WINDOW_S, pad_s: float = 0.0,
            duration_s: float | None = None, max_gap_s: float = MAX_GAP_S) -> list[Window]:
    """Consecutive speech regions grouped into windows of at most ``max_s`` of audio, pauses longer
    than ``max_gap_s`` left out (see :class:`Window`). Each stretch of speech keeps ``pad_s`` of
    audio on either side (a word's end that the VAD cut, its onset), never past the middle of the
    pause to the next region nor the recording's ends (``duration_s``). A region longer than a
    window (see ``split_long``, which cuts it at a pause) is cut every ``max_s - 2 pad_s``."""
    if not regions:
        return []
    longest = max_s - 2 * pad_s
    cut: list[Region] = []
    for r in regions:
        start = r.start
        while r.end - start > longest:
            cut.append(Region(start, start + longest))
            start += longest
        cut.append(Region(start, r.end))
    groups: list[list[list[Region]]] = []  # windows -> stretches (regions close enough to share their pauses) -> regions
    length = 0.0
    for prev, r in zip([None] + cut[:-1], cut):
        close = prev is not None and r.start - prev.end <= max_gap_s
        grown = length + (r.end - prev.end if close else r.end - r.start + 2 * pad_s)
        if groups and grown <= max_s:
            (groups[-1][-1].append(r) if close else groups[-1].append([r]))
            length = grown
        else:
            groups.append([[r]])
            length = r.end - r.start + 2 * pad_s
    end = duration_s if duration_s is not None else cut[-1].end + pad_s
    flat = [stretch for group in groups for stretch in group]
    bounds = {}
    for i, stretch in enumerate(flat):
        low = (flat[i - 1][-1].end + stretch[0].start) / 2 if i else 0.0
        high = (stretch[-1].end + flat[i + 1][0].start) / 2 if i + 1 < len(flat) else end
        bounds[id(stretch)] = Region(max(low, stretch[0].start - pad_s, 0.0), min(high, stretch[-1].end + pad_s))
    return [Window(tuple(bounds[id(stretch)] for stretch in group)) for group in groups]
