"""Formants by Burg LPC, in the manner of Praat's "To Formant (burg)", and a multiple-ceiling search.

One torch implementation for the CPU and the GPU, batched over frames and over tokens:

1. resample to twice the formant ceiling, pre-emphasise from 50 Hz;
2. Gaussian-windowed frames (Praat's window: the "window length" is half its span);
3. Burg's LPC of order 2 × max_formants;
4. the roots of the LPC polynomial (Aberth-Ehrlich iterations: plain tensor arithmetic, so the
   same code runs batched on a GPU), reflected into the unit circle; each root above the real
   axis between 50 Hz and Nyquist − 50 Hz is a formant, bandwidth from its radius.

:func:`analyse_tokens` analyses each vowel token at many ceilings (12-20) and keeps the one whose
F1-F3 tracks are smoothest, i.e. best predicted by a low-order cosine regression over the token:
the idea of Fast Track (Barreda 2021), with its regression error as the criterion plus two
plausibility checks (F1 below 1200 Hz, F1-F3 present): :func:`choose_ceilings`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from voli.errors import VoliError

TRACK_FORMANTS = 3  # F1-F3 decide the ceiling, as in Fast Track


@dataclass(frozen=True)
class FormantSettings:
    """Praat's "To Formant (burg)" parameters; the defaults are Praat's."""

    max_formants: int = 5  # LPC order = 2 × this
    ceiling_hz: float = 5500.0  # the audio is resampled to twice this (Praat's "formant ceiling")
    window_s: float = 0.025  # Praat's "window length": the Gaussian window spans twice this
    time_step_s: float | None = None  # None: window_s / 4, as Praat
    pre_emphasis_hz: float = 50.0  # +6 dB/octave above this
    safety_margin_hz: float = 50.0  # roots this close to 0 Hz or to Nyquist are not formants

    @property
    def step_s(self) -> float:
        return self.time_step_s if self.time_step_s is not None else self.window_s / 4.0

    @property
    def order(self) -> int:
        return 2 * self.max_formants


@dataclass
class FormantTrack:
    """One signal's formants: times (s), frequencies and bandwidths (Hz), shape (frames, max_formants).

    Missing formants are NaN; the columns are F1, F2, ... in rising frequency.
    """

    times: np.ndarray
    frequencies: np.ndarray
    bandwidths: np.ndarray


# -- building blocks ---------------------------------------------------------------------------


def gaussian_window(n: int, torch, device, dtype):
    """Praat's Gaussian window of ``n`` samples (edges at exp(-12), rescaled to 0)."""
    i = torch.arange(1, n + 1, device=device, dtype=dtype)
    mid = 0.5 * (n + 1)
    edge = math.exp(-12.0)
    return (torch.exp(-48.0 * (i - mid) ** 2 / (n + 1) ** 2) - edge) / (1.0 - edge)


def formant_frame_times(n_samples: int, sample_rate: float, window_span_s: float, step_s: float) -> np.ndarray:
    """Centre times (s) of Praat's formant frames: as many as fit, centred (Sound_to_Formant)."""
    dx = 1.0 / sample_rate
    duration = n_samples * dx
    count = 1 + int(math.floor((duration - window_span_s) / step_s))
    if count < 1:
        return np.zeros(0)
    first = 0.5 * dx + 0.5 * (duration - dx - (count - 1) * step_s)
    return first + step_s * np.arange(count)


def burg(frames, order: int):
    """Burg's LPC coefficients of each row of ``frames`` (F, N) -> (F, order).

    ``x[n] ≈ sum_k a[k] x[n - k]``, as Praat's NUMburg (the "memcof" recursion).
    """
    import torch

    n = frames.shape[1]
    coef = frames.new_zeros((frames.shape[0], order))
    prev = frames.new_zeros((frames.shape[0], order))
    wk1 = frames[:, : n - 1]
    wk2 = frames[:, 1:]
    for k in range(order):
        num = torch.linalg.vecdot(wk1, wk2)
        den = torch.linalg.vecdot(wk1, wk1) + torch.linalg.vecdot(wk2, wk2)
        dk = torch.where(den > 0, 2.0 * num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(den))
        coef[:, k] = dk
        if k > 0:
            coef[:, :k] = prev[:, :k] - dk[:, None] * prev[:, :k].flip(1)
        if k == order - 1:
            break
        prev[:, : k + 1] = coef[:, : k + 1]
        step = -dk[:, None]
        wk1, wk2 = torch.addcmul(wk1[:, :-1], wk2[:, :-1], step), torch.addcmul(wk2[:, 1:], wk1[:, 1:], step)
    return coef


def polynomial_roots(coefficients, *, method: str = "auto", iterations: int = 25):
    """Roots of monic polynomials ``z^m + c[0] z^(m-1) + ... + c[m-1]``; coefficients (F, m) -> (F, m) complex.

    method "eig": eigenvalues of the companion matrix (LAPACK; the fastest on a CPU).
    method "aberth": Aberth-Ehrlich simultaneous iterations from points on a circle, then Newton
    polishing; elementwise tensor arithmetic only, so millions of polynomials are solved at once on
    a GPU, where torch's eig goes through the CPU. "auto": eig on the CPU, aberth elsewhere.
    Both agree to about 1e-10 on LPC polynomials (tests).
    """
    import torch

    if method == "auto":
        method = "eig" if coefficients.device.type == "cpu" else "aberth"
    if method == "eig":
        batch, m = coefficients.shape
        companion = coefficients.new_zeros((batch, m, m), dtype=torch.float64)
        companion[:, 0, :] = -coefficients.to(torch.float64)
        companion[:, 1:, :-1] = torch.eye(m - 1, dtype=torch.float64, device=coefficients.device)
        return torch.linalg.eigvals(companion)
    if method != "aberth":
        raise VoliError(f"polynomial_roots: unknown method {method!r}; use 'auto', 'eig' or 'aberth'")
    c = coefficients.to(torch.complex128)
    batch, m = c.shape
    angles = 2 * math.pi * torch.arange(m, device=c.device, dtype=torch.float64) / m + 0.4
    radius = 0.9
    z = (radius * torch.polar(torch.ones_like(angles), angles)).to(torch.complex128).expand(batch, m).clone()
    eye = torch.eye(m, dtype=torch.bool, device=c.device)
    tiny = 1e-300

    def value_and_slope(z):
        p = torch.ones_like(z)
        dp = torch.zeros_like(z)
        for k in range(m):
            dp = dp * z + p
            p = p * z + c[:, k: k + 1]
        return p, dp

    for _ in range(iterations):
        p, dp = value_and_slope(z)
        ratio = p / torch.where(dp.abs() > tiny, dp, torch.full_like(dp, tiny))
        diff = z[:, :, None] - z[:, None, :]
        diff = torch.where(eye, torch.ones_like(diff), diff)
        repulsion = torch.where(eye, torch.zeros_like(diff), 1.0 / diff).sum(dim=2)
        denom = 1.0 - ratio * repulsion
        z = z - ratio / torch.where(denom.abs() > tiny, denom, torch.full_like(denom, tiny))
    for _ in range(2):  # Newton polishing
        p, dp = value_and_slope(z)
        z = z - p / torch.where(dp.abs() > tiny, dp, torch.full_like(dp, tiny))
    return z


def roots_to_formants(roots, nyquist_hz: float, *, max_formants: int, safety_margin_hz: float):
    """Formant frequencies and bandwidths (Hz), each (F, max_formants), NaN-padded, from LPC roots."""
    import torch

    outside = roots.abs() > 1
    roots = torch.where(outside, 1.0 / roots.conj(), roots)  # Praat: fix into the unit circle
    freq = roots.angle().abs() * (nyquist_hz / math.pi)
    bw = -torch.log(roots.abs().clamp_min(1e-300) ** 2) * (nyquist_hz / math.pi)
    keep = (roots.imag >= 0) & (freq >= safety_margin_hz) & (freq <= nyquist_hz - safety_margin_hz)
    freq = torch.where(keep, freq, torch.full_like(freq, math.inf))
    freq, order = freq.sort(dim=1)
    bw = bw.gather(1, order)
    freq, bw = freq[:, :max_formants], bw[:, :max_formants]
    if freq.shape[1] < max_formants:
        pad = max_formants - freq.shape[1]
        freq = torch.nn.functional.pad(freq, (0, pad), value=math.inf)
        bw = torch.nn.functional.pad(bw, (0, pad))
    missing = ~torch.isfinite(freq)
    nan = torch.full_like(freq, math.nan)
    return torch.where(missing, nan, freq), torch.where(missing, nan, bw)


def pre_emphasis(x, sample_rate: float, from_hz: float):
    """y[n] = x[n] − a x[n−1], a = exp(−2π from_hz / sample_rate), along the last axis (Praat)."""
    a = math.exp(-2.0 * math.pi * from_hz / sample_rate)
    y = x.clone()
    y[..., 1:] -= a * x[..., :-1]
    return y


def _analyse_frames(frames, window, settings: FormantSettings, nyquist_hz: float, chunk: int = 512):
    """Formants of raw frames (F, W): windowed, Burg, roots. Chunked so that the CPU works in cache."""
    import torch

    if frames.shape[0] > chunk:
        parts = [_analyse_frames(frames[i: i + chunk], window, settings, nyquist_hz, chunk)
                 for i in range(0, frames.shape[0], chunk)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    coef = burg(frames * window, settings.order)
    roots = polynomial_roots(-coef)
    freq, bw = roots_to_formants(roots, nyquist_hz, max_formants=settings.max_formants,
                                 safety_margin_hz=settings.safety_margin_hz)
    silent = frames.abs().amax(dim=1) == 0  # Praat leaves frames of all zeros without formants
    nan = torch.full_like(freq, math.nan)
    return torch.where(silent[:, None], nan, freq), torch.where(silent[:, None], nan, bw)


# -- whole signals ---------------------------------------------------------------------------


def track_formants(signal, sample_rate: int, *, settings: FormantSettings = FormantSettings(), device=None,
                   chunk_frames: int = 4096) -> FormantTrack:
    """Formant track of one mono signal, frames placed as Praat's ``To Formant (burg)``.

    The signal is resampled to ``2 × ceiling_hz`` (torchaudio's band-limited resampler), pre-emphasised
    and analysed in chunks of frames. Computation is float64 (LPC roots are sensitive).
    """
    import torch
    import torchaudio

    device = device or torch.device("cpu")
    x = torch.as_tensor(np.asarray(signal, dtype=np.float64) if not torch.is_tensor(signal) else signal)
    x = x.to(device=device, dtype=torch.float64)
    if x.ndim != 1:
        raise VoliError(f"track_formants: the signal has shape {tuple(x.shape)}; pass a mono 1-D signal")
    new_rate = int(round(2 * settings.ceiling_hz))
    if new_rate != sample_rate:
        x = torchaudio.functional.resample(x, int(sample_rate), new_rate)
    x = pre_emphasis(x, new_rate, settings.pre_emphasis_hz)
    dx = 1.0 / new_rate
    n_window = int(math.floor(2 * settings.window_s / dx))
    half = n_window // 2
    times = formant_frame_times(len(x), new_rate, 2 * settings.window_s, settings.step_s)
    k = len(times)
    freq = np.full((k, settings.max_formants), np.nan)
    bw = np.full((k, settings.max_formants), np.nan)
    if k == 0 or n_window < settings.order + 1:
        return FormantTrack(times, freq, bw)
    window = gaussian_window(n_window, torch, device, torch.float64)
    left = np.floor((times - 0.5 * dx) / dx).astype(np.int64)  # 0-based sample at or before t
    start = left + 1 - half
    span = torch.arange(n_window, device=device)
    for lo in range(0, k, chunk_frames):
        s = torch.as_tensor(start[lo: lo + chunk_frames], device=device)
        idx = s[:, None] + span
        valid = (idx >= 0) & (idx < len(x))
        frames = torch.where(valid, x[idx.clamp(0, len(x) - 1)], torch.zeros((), dtype=x.dtype, device=device))
        f, b = _analyse_frames(frames, window, settings, new_rate / 2)
        freq[lo: lo + len(s)] = f.cpu().numpy()
        bw[lo: lo + len(s)] = b.cpu().numpy()
    return FormantTrack(times, freq, bw)


# -- tokens at many ceilings -------------------------------------------------------------------


def ceiling_grid(low_hz: float = 4500.0, high_hz: float = 7000.0, count: int = 12) -> np.ndarray:
    """The ceilings the search tries (Hz): ``count`` evenly spaced from ``low_hz`` to ``high_hz``.

    The default spans Fast Track's male (4500-6500) and female (5000-7000) ranges in one grid, so
    no speaker needs a gender label; narrow it per corpus in the features config.
    """
    if not 0 < low_hz <= high_hz or count < 1:
        raise VoliError(f"formant ceilings {low_hz}-{high_hz} Hz x {count}: need 0 < low <= high and count >= 1")
    return np.linspace(low_hz, high_hz, count)


@dataclass
class TokenFormants:
    """Formants of many tokens, each analysed at ``len(ceilings)`` ceilings.

    frequencies, bandwidths: (tokens, ceilings, frames, max_formants), NaN-padded; times:
    (tokens, frames) in seconds from each segment's start, NaN-padded; n_frames: (tokens,).
    """

    ceilings: np.ndarray
    times: np.ndarray
    n_frames: np.ndarray
    frequencies: np.ndarray
    bandwidths: np.ndarray


def span_times(start_s: float, end_s: float, step_s: float) -> np.ndarray:
    """Frame centres (s) covering ``start_s .. end_s`` every ``step_s``, centred; at least one."""
    n = max(1, int(math.floor((end_s - start_s) / step_s + 1e-9)))
    return 0.5 * (start_s + end_s) + (np.arange(n) - 0.5 * (n - 1)) * step_s


def analyse_tokens(segments, sample_rate: float, ceilings, *, spans=None,
                   settings: FormantSettings = FormantSettings(), device=None,
                   batch_tokens: int = 256, batch_frames: int = 8192) -> TokenFormants:
    """Formants of token segments at each ceiling, batched over tokens, ceilings and frames.

    Parameters
    ----------
    segments : sequence of 1-D arrays
        Audio of each token with a margin around it (at least ``window_s``, so that every frame
        has a whole window), all at ``sample_rate``.
    ceilings : sequence of float
        Formant ceilings (Hz); each segment is resampled to twice each one by FFT (any value works).
    spans : sequence of (start_s, end_s), optional
        The token inside its segment (s from the segment's first sample); frames are centred in it
        every ``settings.step_s``. Default: the whole segment less ``window_s`` at each end.
    batch_tokens, batch_frames : int
        A batch holds at most this many tokens and frames (memory: frames x window samples x 8 bytes
        per temporary; whole utterances analysed as "tokens" are long).

    Returns
    -------
    TokenFormants
    """
    import torch

    device = device or torch.device("cpu")
    ceilings = np.asarray(ceilings, dtype=float)
    lengths = np.array([len(s) for s in segments], dtype=np.int64)
    n_tok = len(segments)
    if spans is None:
        spans = [(settings.window_s, n / sample_rate - settings.window_s) for n in lengths]
    all_times = [span_times(a, b, settings.step_s) for a, b in spans]
    n_frames = np.array([len(t) for t in all_times], dtype=np.int64)
    max_frames = int(n_frames.max()) if n_tok else 0
    shape = (n_tok, len(ceilings), max_frames, settings.max_formants)
    freq, bw = np.full(shape, np.nan), np.full(shape, np.nan)
    times = np.full((n_tok, max_frames), np.nan)
    for i, t in enumerate(all_times):
        times[i, : len(t)] = t
    order = np.argsort(lengths, kind="stable")  # similar lengths batch together: less padding
    for rows in token_batches(order, n_frames, batch_tokens, batch_frames):
        longest = int(lengths[rows].max())
        if longest == 0:
            continue
        batch = torch.zeros((len(rows), longest), dtype=torch.float64, device=device)
        for j, r in enumerate(rows):
            batch[j, : lengths[r]] = torch.as_tensor(np.asarray(segments[r], dtype=np.float64), device=device)
        spectrum = torch.fft.rfft(batch, dim=-1)
        tok = np.concatenate([np.full(n_frames[r], j) for j, r in enumerate(rows)])
        pos = np.concatenate([np.arange(n_frames[r]) for r in rows])
        t_all = np.concatenate([all_times[r] for r in rows])
        for c, ceiling in enumerate(ceilings):
            f, b = _analyse_batch_at(spectrum, longest, lengths[rows], tok, t_all, sample_rate, float(ceiling),
                                     settings, device)
            freq[rows[tok], c, pos] = f
            bw[rows[tok], c, pos] = b
    return TokenFormants(ceilings, times, n_frames, freq, bw)


def token_batches(order: np.ndarray, n_frames: np.ndarray, max_tokens: float, max_frames: float):
    """Consecutive groups of ``order`` within both budgets (a token longer than the budget goes alone)."""
    batch, frames = [], 0
    for r in order:
        if batch and (len(batch) >= max_tokens or frames + n_frames[r] > max_frames):
            yield np.array(batch)
            batch, frames = [], 0
        batch.append(r)
        frames += int(n_frames[r])
    if batch:
        yield np.array(batch)


def _analyse_batch_at(spectrum, n_padded: int, lengths: np.ndarray, tok: np.ndarray, t_all: np.ndarray,
                      sample_rate: float, ceiling: float, settings: FormantSettings, device):
    """One ceiling for a padded batch: frames at times ``t_all`` of tokens ``tok`` -> (frames, max_formants) x 2."""
    import torch

    ratio = 2 * ceiling / sample_rate
    n_out = int(round(n_padded * ratio))
    keep = min(spectrum.shape[-1], n_out // 2 + 1)
    x = torch.fft.irfft(spectrum[..., :keep], n=n_out, dim=-1) * (n_out / n_padded)
    new_rate = n_out / (n_padded / sample_rate)
    x = pre_emphasis(x, new_rate, settings.pre_emphasis_hz)
    dx = 1.0 / new_rate
    n_window = int(math.floor(2 * settings.window_s / dx))
    half = n_window // 2
    window = gaussian_window(n_window, torch, device, torch.float64)
    # resampled sample k sits at 0.5 / sample_rate + k * dx (the FFT keeps the first sample's time)
    left = np.floor((t_all - 0.5 / sample_rate) / dx).astype(np.int64)
    start = torch.as_tensor(left + 1 - half, device=device)
    tok_t = torch.as_tensor(tok, device=device)
    limit = torch.as_tensor(np.floor(lengths * ratio).astype(np.int64), device=device)[tok_t]
    idx = start[:, None] + torch.arange(n_window, device=device)
    last = left + 1 - half + n_window - 1  # each frame's last sample
    inside = (left + 1 - half >= 0).all() and (last < np.floor(lengths * ratio)[tok]).all()
    if inside:  # every window lies in its token's segment (margins of at least window_s)
        frames = x[tok_t[:, None], idx]
    else:  # samples beyond a segment are zeros, as if the segment were the whole sound
        valid = (idx >= 0) & (idx < limit[:, None])
        frames = torch.where(valid, x[tok_t[:, None], idx.clamp(0, n_out - 1)], torch.zeros((), dtype=x.dtype, device=device))
    f, b = _analyse_frames(frames, window, settings, new_rate / 2)
    return f.cpu().numpy(), b.cpu().numpy()


def cosine_basis(n: int, order: int) -> np.ndarray:
    """DCT-II style basis (n, order): column k is cos(π k (t + 0.5) / n)."""
    t = (np.arange(n) + 0.5) / n
    return np.cos(np.pi * np.outer(t, np.arange(order)))


def dct_coefficients(track: np.ndarray, order: int = 3) -> np.ndarray:
    """Least-squares cosine-regression coefficients of a track (frames,) -> (order,), NaN frames skipped.

    Coefficient 0 is the track's level, 1 its slope (falling track: positive), 2 its curvature.
    """
    y = np.asarray(track, dtype=float)
    ok = np.isfinite(y)
    out = np.full(order, np.nan)
    if ok.sum() < order:
        return out
    basis = cosine_basis(len(y), order)[ok]
    out[:], *_ = np.linalg.lstsq(basis, y[ok], rcond=None)
    return out


TOO_SHORT = -2  # choose_ceilings: too few frames for the smoothness criterion to choose
MIN_RESIDUAL_DOF = 3  # frames beyond the regression's terms that a choice needs


def choose_ceilings(tokens: TokenFormants, *, order: int = 5,
                    max_f1_hz: float = 1200.0) -> tuple[np.ndarray, np.ndarray]:
    """The best ceiling per token, Fast-Track style, and every ceiling's error.

    For each token and ceiling, F1-F3 over the token's frames are fitted by a cosine regression of
    ``order`` terms (fewer for short tokens, keeping ``MIN_RESIDUAL_DOF`` frames of residual); the
    error is the summed mean absolute residual (Hz). A ceiling with a missing F1-F3 in any frame, or
    a median F1 above ``max_f1_hz``, is not chosen unless no ceiling is plausible. Returns (best
    index per token, errors (tokens, ceilings)); the index is -1 where no ceiling has F1-F3, and
    ``TOO_SHORT`` (-2) for tokens with at most ``MIN_RESIDUAL_DOF`` frames, where any track fits
    perfectly and the criterion cannot choose: give those the speaker's usual ceiling.
    """
    n_tok, n_ceil = tokens.frequencies.shape[:2]
    errors = np.full((n_tok, n_ceil), np.inf)
    plausible = np.zeros((n_tok, n_ceil), dtype=bool)
    short = np.zeros(n_tok, dtype=bool)
    for i in range(n_tok):
        n = int(tokens.n_frames[i])
        terms = min(order, n - MIN_RESIDUAL_DOF)
        if terms < 1:
            short[i] = n >= 1
            continue
        y = tokens.frequencies[i, :, :n, :TRACK_FORMANTS]  # (ceilings, n, 3)
        complete = np.isfinite(y).all(axis=(1, 2))
        basis = cosine_basis(n, terms)
        fill = np.where(np.isfinite(y), y, 0.0)
        coef = np.einsum("kn,cnf->ckf", np.linalg.pinv(basis), fill)
        resid = np.abs(np.einsum("nk,ckf->cnf", basis, coef) - fill)
        err = resid.mean(axis=1).sum(axis=1)
        errors[i] = np.where(complete, err, np.inf)
        with np.errstate(all="ignore"):
            plausible[i] = complete & (np.nanmedian(y[:, :, 0], axis=1) <= max_f1_hz)
    ranked = np.where(plausible, errors, np.inf)
    none_plausible = ~np.isfinite(ranked).any(axis=1)
    ranked[none_plausible] = errors[none_plausible]
    best = np.argmin(ranked, axis=1)
    best[~np.isfinite(ranked).any(axis=1)] = -1
    best[short] = TOO_SHORT
    return best, errors
