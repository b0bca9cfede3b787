"""What the browser's server sends for a span of a recording: the audio as WAV, and a
spectrogram with formant tracks and F0 as PNG."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from voli.errors import AudioError, VoliError
from voli.io.audio import probe, quiet_decoder

MAX_SPAN_S = 120.0  # longest span the server cuts, seconds
SPECTROGRAM_MAX_HZ = 5500.0
WINDOW_S = 0.005  # broadband analysis window, seconds
DYNAMIC_RANGE_DB = 50.0
_DRAW = threading.Lock()  # matplotlib's font cache and Agg renderer are not shared across threads safely


def check_span(start: float, end: float, duration_s: float | None = None) -> tuple[float, float]:
    """``(start, end)`` clipped to the recording, or an error naming the bad value."""
    if not (np.isfinite(start) and np.isfinite(end)) or end <= start:
        raise VoliError(f"span start={start} end={end}: give start < end in seconds")
    if end - start > MAX_SPAN_S:
        raise VoliError(f"span {start}-{end} s is {end - start:.0f} s long; ask for at most {MAX_SPAN_S:.0f} s")
    start = max(0.0, start)
    if duration_s is not None:
        if start >= duration_s:
            raise VoliError(f"span start {start} s is past the recording's end ({duration_s:.3f} s)")
        end = min(end, duration_s)
    return start, end


def read_span(path: str | Path, start: float, end: float, *, channel: int | None = None) -> tuple[np.ndarray, int]:
    """Samples of ``path`` from ``start`` to ``end`` (s): mono float32 (``channel`` 1-based, or the
    channels' mean) and the sample rate."""
    info = probe(path)
    start, end = check_span(start, end, info.duration_s)
    if channel is not None and not 1 <= channel <= info.channels:
        raise AudioError(f"{path}: channel {channel} asked for, but the file has {info.channels}")
    first, last = round(start * info.sample_rate), round(end * info.sample_rate)
    try:
        with quiet_decoder(info.format):
            block, rate = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: cannot read {start:.3f}-{end:.3f} s ({err})") from err
    mono = block[:, channel - 1] if channel is not None else block.mean(axis=1)
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of ``samples`` (float in [-1, 1])."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def praat_tracks(samples: np.ndarray, sample_rate: int, *, ceiling_hz: float = 5500.0):
    """Formants (Burg) and F0 (autocorrelation) of a span through Praat (parselmouth), for spans
    the features stage wrote no tracks for. Returns (times, F1-F3 (n, 3), f0 times, f0)."""
    try:
        import parselmouth
    except ImportError as err:
        raise VoliError("drawing formant tracks for this span needs praat-parselmouth: pip install "
                        "praat-parselmouth (it is in requirements.lock)") from err
    sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=sample_rate)
    formant = sound.to_formant_burg(time_step=0.005, max_number_of_formants=5, maximum_formant=ceiling_hz)
    times = np.asarray(formant.ts())
    tracks = np.array([[formant.get_value_at_time(k, t) for k in (1, 2, 3)] for t in times]).reshape(-1, 3)
    pitch = sound.to_pitch_ac(time_step=0.005, pitch_floor=60.0, pitch_ceiling=600.0)
    f0 = pitch.selected_array["frequency"].astype(float)
    f0[f0 == 0] = np.nan
    return times, tracks, np.asarray(pitch.xs()), f0


def spectrogram_png(samples: np.ndarray, sample_rate: int, *, offset_s: float, formants=None, f0=None,
                    marks: tuple[float, float] | None = None, trajectory=None, title: str = "") -> bytes:
    """A broadband spectrogram (0-5.5 kHz) with F1-F3 as dots and F0 on a right-hand axis.

    Parameters
    ----------
    samples : ndarray, shape (n,)
        The span's audio; ``offset_s`` is its start in the recording (s), so the x axis reads
        recording time.
    formants : (times, values (n, 3)) or None
        Formant track in recording time (s) and Hz.
    f0 : (times, values) or None
        F0 track in recording time (s) and Hz (NaN = unvoiced).
    marks : (start, end) or None
        The token's boundaries, drawn as dashed lines.
    trajectory : (times, values (n, 2), reliable (n,)) or None
        The token's F1 and F2 at its 11 points (vowel_tracks), drawn as lines through the points;
        unreliable points as hollow circles.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from scipy.signal import spectrogram

    x = samples.astype(np.float64)
    if len(x) > 1:
        x = np.append(x[0], x[1:] - 0.97 * x[:-1])  # pre-emphasis, as Praat's spectrogram
    nper = max(16, int(WINDOW_S * sample_rate))
    nfft = max(256, 1 << (nper - 1).bit_length())
    if len(x) < nper:
        x = np.pad(x, (0, nper - len(x)))
    freqs, times, power = spectrogram(x, fs=sample_rate, window="hann", nperseg=nper,
                                      noverlap=max(0, nper - max(1, int(0.001 * sample_rate))), nfft=nfft)
    keep = freqs <= SPECTROGRAM_MAX_HZ
    db = 10 * np.log10(power[keep] + 1e-12)
    with _DRAW:
        fig = Figure(figsize=(7.2, 3.2), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(111)
        ax.pcolormesh(times + offset_s, freqs[keep], db, cmap="Greys", shading="auto",
                      vmin=db.max() - DYNAMIC_RANGE_DB, vmax=db.max())
        ax.set_ylim(0, SPECTROGRAM_MAX_HZ)
        ax.set_xlim(offset_s, offset_s + len(samples) / sample_rate)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
        if formants is not None and len(formants[0]):
            for k, colour in enumerate(("#d62728", "#ff7f0e", "#9467bd")):
                ax.plot(formants[0], formants[1][:, k], ".", ms=3, color=colour, label=f"F{k + 1}")
        if trajectory is not None and len(trajectory[0]):
            t, values, reliable = trajectory
            for k in range(values.shape[1]):
                ax.plot(t, values[:, k], "-", color="#1f77b4", lw=1.6, zorder=4,
                        label="trajectory (11 points)" if k == 0 else None)
                ax.plot(t[reliable], values[reliable, k], "o", ms=4, color="#1f77b4", mec="white", zorder=5)
                ax.plot(t[~reliable], values[~reliable, k], "o", ms=4, mfc="white", mec="#1f77b4", zorder=5)
        if marks is not None:
            for t in marks:
                ax.axvline(t, color="#1f77b4", ls="--", lw=1)
        if f0 is not None and np.isfinite(f0[1]).any():
            ax2 = ax.twinx()
            ax2.plot(f0[0], f0[1], "-", color="#2ca02c", lw=1.5, label="F0")
            ax2.set_ylim(50, 500)
            ax2.set_ylabel("F0 (Hz)", color="#2ca02c")
            ax2.set_xlim(ax.get_xlim())
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()
