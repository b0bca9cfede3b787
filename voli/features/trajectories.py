"""Vowel trajectories: F1-F3 at 11 time-normalised points of a token, and new-fave's DCT coefficients.

A token's trajectory is read from its chosen ceiling's frames (:func:`voli.features.formants.analyse_tokens`,
every ``window_s / 4``, from one step before the vowel to one step after, so that 0 % and 100 % lie
between two frames), in three steps:

1. **Smoothing that invents no movement**: a running median of :data:`MEDIAN_FRAMES` frames, its window
   shrunk symmetrically at the track's ends. A median returns one of its window's own values, so it
   cannot overshoot, and it leaves every monotone stretch exactly as it was (a glide stays a glide,
   a steady vowel stays steady); it removes only extrema narrower than half its window (3 frames,
   19 ms at the default step), which the 25 ms analysis window cannot resolve anyway: one-frame
   spurious poles, jitter. A cosine (DCT) or polynomial fit, Fast Track's smoother, spreads a
   one-frame error over the whole vowel as a wave and bends the track's ends; a moving average
   smears a formant swap into a fake glide.
2. **Checks**, each of which makes a point unreliable (its value left empty, its reason in
   ``problem``), rather than interpolated over:

   * ``too short``: the vowel is shorter than :data:`MIN_TRACK_S` (new-fave's and Fast Track's
     minimum): its 11 points would sit inside one analysis window;
   * ``unvoiced``: no F0 at the point (the pitch track): formants of a voiceless or whispered
     stretch are LPC poles of noise;
   * ``no formant``: a frame next to the point has no F1, F2 or F3 at this ceiling;
   * ``ceiling jump``: the smoothed track jumps by more than :data:`JUMP_RATIO` between two frames
     (one step): at a fixed ceiling, the LPC root labelled F\\ *k* has switched to another resonance
     (a formant appeared or vanished below it). The track splits into runs at its jumps; the longest
     run is taken as right and the points touching the others are flagged.
3. **Reading**: each point is the linear interpolation of the two smoothed frames around it (as
   Praat's ``Get value at time``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voli.schema import TRACK_POINTS

MEDIAN_FRAMES = 5  # running-median width (frames): removes extrema of 1-2 frames, keeps monotone stretches
MIN_TRACK_S = 0.05  # s: shorter vowels get no trajectory ("too short"; new-fave's min_duration)
JUMP_RATIO = 0.25  # a change of more than this fraction between two frames (one step) is a jump, not movement


@dataclass
class Trajectory:
    """One token's trajectory: ``times`` (points,) in s, ``formants`` (points, 3) in Hz, NaN where
    unreliable, ``problems`` (points,) None or why the point is unreliable."""

    times: np.ndarray
    formants: np.ndarray
    problems: list

    @property
    def reliable(self) -> np.ndarray:
        return np.array([p is None for p in self.problems])


def point_times(start: float, end: float, points=TRACK_POINTS) -> np.ndarray:
    """Absolute times (s) of the trajectory points of a vowel from ``start`` to ``end``."""
    return start + np.asarray(points, dtype=float) / 100.0 * (end - start)


def running_median(values: np.ndarray, width: int = MEDIAN_FRAMES) -> np.ndarray:
    """Running median along axis 0 of ``values`` (frames, ...), window ``width`` (odd) centred on each
    frame and shrunk symmetrically at the ends (frame 0 is itself, frame 1 the median of 0-2, ...).

    NaN frames stay NaN; a window's NaNs are left out of its median. A symmetric window keeps a
    monotone sequence exactly as it is, ends included.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    half = width // 2
    if n == 0 or half == 0:
        return values.copy()
    pad = np.full((half,) + values.shape[1:], np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, values, pad]), width, axis=0)
    windows = np.array(windows)  # (n, ..., width): writable
    reach = np.minimum(np.arange(n), np.arange(n)[::-1])  # how far each frame's window may reach
    offset = np.abs(np.arange(width) - half)
    outside = offset[None, :] > np.minimum(reach, half)[:, None]  # (n, width)
    windows[np.broadcast_to(outside.reshape((n,) + (1,) * (values.ndim - 1) + (width,)), windows.shape)] = np.nan
    ordered = np.sort(windows, axis=-1)  # NaNs last: the median of the finite values, as nanmedian (faster)
    count = np.isfinite(ordered).sum(axis=-1, keepdims=True)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0) // 2, axis=-1)
    high = np.take_along_axis(ordered, count // 2, axis=-1)
    out = np.where(count > 0, 0.5 * (low + np.where(count % 2 == 1, low, high)), np.nan)[..., 0]
    out[~np.isfinite(values)] = np.nan
    return out


def off_track(track: np.ndarray, ratio: float = JUMP_RATIO) -> np.ndarray:
    """Frames (bool, like ``track`` (frames,)) outside the track's longest run without a jump.

    A jump is a change of more than ``ratio`` of the lower value between consecutive frames; NaN
    frames end a run too (and are not themselves flagged here). Among runs of equal length the one
    nearest the track's middle wins.
    """
    track = np.asarray(track, dtype=float)
    n = len(track)
    flagged = np.zeros(n, dtype=bool)
    finite = np.isfinite(track)
    if finite.sum() < 2:
        return flagged
    with np.errstate(all="ignore"):
        step = np.abs(np.diff(track)) / np.minimum(track[:-1], track[1:])
    breaks = ~(step <= ratio)  # NaN neighbours break too
    run = np.concatenate([[0], np.cumsum(breaks)])
    runs = [r for r in np.unique(run[finite])]
    if len(runs) < 2:
        return flagged
    middle = 0.5 * (n - 1)
    best = max(runs, key=lambda r: ((run == r) & finite).sum() - 1e-3 * abs(np.mean(np.flatnonzero(run == r)) - middle))
    return finite & (run != best)


def token_trajectory(frame_times: np.ndarray, frequencies: np.ndarray, start: float, end: float, *,
                     voiced: np.ndarray | None = None, points=TRACK_POINTS,
                     min_duration_s: float = MIN_TRACK_S, width: int = MEDIAN_FRAMES,
                     jump_ratio: float = JUMP_RATIO) -> Trajectory:
    """The trajectory of one vowel token from its chosen ceiling's frames.

    Parameters
    ----------
    frame_times : (frames,) array
        Frame centres (s, on the same clock as ``start``/``end``), increasing; they should reach
        beyond ``start`` and ``end`` (otherwise the edge points lack a frame: ``no formant``).
    frequencies : (frames, formants >= 3) array
        Formants in Hz, NaN where missing; F1-F3 are used.
    start, end : float
        The vowel (s).
    voiced : (points,) bool array, optional
        Whether each point is voiced (None: all are).

    Returns
    -------
    Trajectory
    """
    at = point_times(start, end, points)
    k = 3
    values = np.full((len(at), k), np.nan)
    problems: list[str | None] = [None] * len(at)
    if end - start < min_duration_s:
        return Trajectory(at, values, ["too short"] * len(at))
    times = np.asarray(frame_times, dtype=float)
    raw = np.asarray(frequencies, dtype=float)[:, :k]
    smooth = running_median(raw, width)
    jumped = np.stack([off_track(smooth[:, f], jump_ratio) for f in range(k)], axis=1) if len(times) else \
        np.zeros((0, k), dtype=bool)
    voiced = np.ones(len(at), dtype=bool) if voiced is None else np.asarray(voiced, dtype=bool)
    n = len(times)
    inside = np.zeros(len(at), dtype=bool) if n == 0 else (at >= times[0] - 1e-9) & (at <= times[-1] + 1e-9)
    missing = np.ones((len(at), k), dtype=bool)
    jump = np.zeros((len(at), k), dtype=bool)
    if n == 1:
        values[:] = smooth[0]
        missing[:] = ~np.isfinite(smooth[0])
        jump[:] = jumped[0]
    elif n > 1:  # each point between frames j and j + 1, weight w on j + 1 (a frame of weight 0 is not used)
        j = np.clip(np.searchsorted(times, at, side="right") - 1, 0, n - 2)
        w = np.clip((at - times[j]) / (times[j + 1] - times[j]), 0.0, 1.0)[:, None]
        left, right = (w < 1), (w > 0)
        values = np.where(left, (1 - w) * smooth[j], 0.0) + np.where(right, w * smooth[j + 1], 0.0)
        missing = (left & ~np.isfinite(smooth[j])) | (right & ~np.isfinite(smooth[j + 1]))
        jump = ((left & jumped[j]) | (right & jumped[j + 1])) & ~missing
    values = np.where(missing | jump, np.nan, values)
    for p in range(len(at)):
        if not voiced[p]:
            problems[p] = "unvoiced"
        elif not inside[p] or missing[p].any():
            problems[p] = "no formant"
        elif jump[p].any():
            problems[p] = "ceiling jump"
    values[~voiced | ~inside] = np.nan
    return Trajectory(at, values, problems)


# -- new-fave's DCT coefficients -------------------------------------------------------------------


def new_fave_basis(n: int, order: int) -> np.ndarray:
    """fasttrackpy's ``dct_smooth_regression`` predictors (n, order), which new-fave fits: column k is
    the k-th row of scipy's DCT-II matrix (norm "backward", orthogonalized), i.e. sqrt(2) for k = 0
    and 2 cos(pi k (i + 1/2) / n) at frame i for k >= 1."""
    i = (np.arange(n) + 0.5) / n
    basis = 2.0 * np.cos(np.pi * np.outer(i, np.arange(order)))
    basis[:, 0] = np.sqrt(2.0)
    return basis


def new_fave_dct(track: np.ndarray, order: int) -> np.ndarray:
    """new-fave's DCT coefficients (order,) of a formant track (frames,): least squares on the finite
    frames, as fasttrackpy's ``dct_smooth_regression``; NaN if fewer finite frames than ``order``."""
    y = np.asarray(track, dtype=float)
    ok = np.isfinite(y)
    out = np.full(order, np.nan)
    if ok.sum() < order:
        return out
    out[:], *_ = np.linalg.lstsq(new_fave_basis(len(y), order)[ok], y[ok], rcond=None)
    return out
