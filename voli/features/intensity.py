"""Intensity in dB, in the manner of Praat's "To Intensity": one torch implementation for CPU and GPU.

Each frame is the mean-subtracted signal squared, weighted by a Kaiser window (β = 2π² + 0.5) of
``6.4 / floor_hz`` seconds, in dB re (2·10⁻⁵)², i.e. full scale taken as 1 Pa, as Praat does.
A sine of amplitude A reads 20·log10(A / √2 / 2·10⁻⁵) dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from voli.errors import VoliError
from voli.features.pitch import frame_times

REFERENCE_PA2 = 4e-10  # (2e-5 Pa)^2: 0 dB SPL
SILENT_DB = -300.0  # Praat's value for a frame of exact zeros


@dataclass(frozen=True)
class IntensitySettings:
    floor_hz: float = 100.0  # Praat's "minimum pitch": the window is 6.4 / floor_hz s, smoothing out F0
    time_step_s: float | None = None  # None: 0.8 / floor_hz, as Praat
    subtract_mean: bool = True

    @property
    def window_s(self) -> float:
        return 6.4 / self.floor_hz

    @property
    def step_s(self) -> float:
        return self.time_step_s if self.time_step_s is not None else 0.8 / self.floor_hz


@dataclass
class IntensityTrack:
    times: np.ndarray  # s
    intensity_db: np.ndarray


def kaiser_window(half: int, dx: float, half_s: float, torch, device, dtype):
    """Praat's intensity window over samples -half..half: I0((2π² + 0.5)·sqrt(1 − x²))."""
    x = torch.arange(-half, half + 1, device=device, dtype=torch.float64) * dx / half_s
    root = (1 - x * x).clamp_min(0)
    w = torch.special.i0((2 * math.pi ** 2 + 0.5) * root.sqrt())
    return torch.where(root > 0, w, torch.zeros_like(w)).to(dtype)


def track_intensity(signal, sample_rate: float, *, settings: IntensitySettings = IntensitySettings(), device=None,
                    chunk_frames: int = 2048) -> IntensityTrack:
    """Intensity track (dB) of one mono signal; frames placed as Praat's ``To Intensity``."""
    import torch

    device = device or torch.device("cpu")
    x = torch.as_tensor(np.asarray(signal, dtype=np.float64) if not torch.is_tensor(signal) else signal)
    x = x.to(device=device, dtype=torch.float64)
    if x.ndim != 1:
        raise VoliError(f"track_intensity: the signal has shape {tuple(x.shape)}; pass a mono 1-D signal")
    dx = 1.0 / sample_rate
    half_s = 0.5 * settings.window_s
    half = int(math.floor(half_s / dx))
    times = frame_times(len(x), sample_rate, settings.window_s, settings.step_s)
    out = np.full(len(times), SILENT_DB)
    if len(times) == 0:
        return IntensityTrack(times, out)
    window = kaiser_window(half, dx, half_s, torch, device, torch.float64)
    mid = np.round((times - 0.5 * dx) / dx).astype(np.int64)  # nearest sample
    span = torch.arange(-half, half + 1, device=device)
    for lo in range(0, len(mid), chunk_frames):
        m = torch.as_tensor(mid[lo: lo + chunk_frames], device=device)
        idx = m[:, None] + span
        valid = (idx >= 0) & (idx < len(x))
        frames = torch.where(valid, x[idx.clamp(0, len(x) - 1)], torch.zeros((), dtype=x.dtype, device=device))
        w = torch.where(valid, window, torch.zeros_like(window))
        if settings.subtract_mean:
            mean = frames.sum(dim=1, keepdim=True) / valid.sum(dim=1, keepdim=True).clamp_min(1)
            frames = torch.where(valid, frames - mean, frames)
        power = (frames * frames * w).sum(dim=1) / w.sum(dim=1)
        db = torch.where(power > 0, 10 * torch.log10(power.clamp_min(1e-300) / REFERENCE_PA2),
                         torch.full_like(power, SILENT_DB))
        out[lo: lo + len(m)] = db.cpu().numpy()
    return IntensityTrack(times, out)


def mean_db(values_db) -> float:
    """Energy mean of dB values (Praat's "mean energy"): 10·log10(mean(10^(dB/10))); NaN if none."""
    v = np.asarray(values_db, dtype=float)
    v = v[np.isfinite(v) & (v > SILENT_DB)]
    if not len(v):
        return float("nan")
    return float(10 * np.log10(np.mean(10 ** (v / 10))))
