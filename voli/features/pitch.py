"""F0 tracking by autocorrelation, in the manner of Praat's "To Pitch (ac)" (Boersma 1993).

One torch implementation for the CPU and the GPU, batched over many signals:

1. frames: a Hanning window of ``periods_per_window / floor`` seconds every ``time_step_s``,
   placed as Praat places them (centred in the signal), local mean removed;
2. candidates: peaks of the autocorrelation divided by the window's own autocorrelation,
   with parabolic interpolation, plus one "unvoiced" candidate per frame whose strength
   grows as the frame gets quieter than the signal's peak;
3. path: the Viterbi path through the candidates that maximises strength minus octave costs,
   octave-jump costs and voiced/unvoiced transition costs.

The path search is exact and cheap: a frame whose only candidate is "unvoiced" is a point
every path must pass, so the track splits there into short voiced stretches, and the
stretches of all signals are decoded together as one batch.

:func:`speaker_limits` gives the two-pass, speaker-adapted floor and ceiling used by
sociophonetic pipelines (Hirst 2011; De Looze & Hirst 2008): a wide first pass, then
floor = 0.75 × first quartile and ceiling = 1.5 × third quartile of that speaker's F0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from voli.errors import VoliError


@dataclass(frozen=True)
class PitchSettings:
    """Praat's "To Pitch (ac)" parameters; the defaults are Praat's."""

    floor_hz: float = 75.0  # lowest F0 looked for; also sets the window (periods_per_window / floor_hz)
    ceiling_hz: float = 600.0  # highest F0 looked for
    time_step_s: float | None = None  # None: 0.75 / floor_hz, as Praat
    max_candidates: int = 15  # per frame, the unvoiced candidate included
    silence_threshold: float = 0.03  # frames quieter than this share of the signal's peak lean to unvoiced
    voicing_threshold: float = 0.45  # autocorrelation strength above which a frame can be voiced
    octave_cost: float = 0.01  # per octave below the ceiling: favours higher candidates (against subharmonics)
    octave_jump_cost: float = 0.35  # per octave of F0 change between frames
    voiced_unvoiced_cost: float = 0.14  # per voicing change between frames
    periods_per_window: float = 3.0  # window length in periods of the floor

    @property
    def step_s(self) -> float:
        return self.time_step_s if self.time_step_s is not None else 0.75 / self.floor_hz

    @property
    def window_s(self) -> float:
        return self.periods_per_window / self.floor_hz

    def check(self, sample_rate: float) -> None:
        if not 0 < self.floor_hz < self.ceiling_hz:
            raise VoliError(f"pitch floor {self.floor_hz} Hz and ceiling {self.ceiling_hz} Hz: need 0 < floor < ceiling")
        if self.ceiling_hz > sample_rate / 2:
            raise VoliError(f"pitch ceiling {self.ceiling_hz} Hz is above the Nyquist frequency of {sample_rate} Hz audio")
        if self.max_candidates < 2:
            raise VoliError(f"max_candidates must be at least 2 (unvoiced + one voiced), got {self.max_candidates}")


@dataclass
class PitchTrack:
    """One signal's F0 track: frame times (s), F0 (Hz, NaN where unvoiced) and strength (0-1)."""

    times: np.ndarray
    f0_hz: np.ndarray
    strength: np.ndarray

    @property
    def voiced(self) -> np.ndarray:
        return np.isfinite(self.f0_hz)


def frame_times(n_samples: int, sample_rate: float, window_s: float, step_s: float, start_s: float = 0.0) -> np.ndarray:
    """Centre times (s) of Praat's short-term analysis frames: as many whole windows as fit, centred.

    Sample ``n`` sits at ``start_s + (n + 0.5) / sample_rate``, as in Praat.
    """
    duration = n_samples / sample_rate
    if window_s > duration:
        return np.zeros(0)
    count = int(math.floor((duration - window_s) / step_s)) + 1  # no rounding slack: as Praat
    first = start_s + 0.5 * duration - 0.5 * count * step_s + 0.5 * step_s
    return first + step_s * np.arange(count)


def _fft_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (fast for every FFT library)."""
    best = 1 << int(math.ceil(math.log2(n)))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _hanning(n: int, torch, device, dtype):
    i = torch.arange(1, n + 1, device=device, dtype=dtype)
    return 0.5 - 0.5 * torch.cos(2 * math.pi * i / (n + 1))


def _candidates(frames, window_r, *, sample_rate, settings: PitchSettings, min_lag: int, max_lag: int, torch):
    """Voiced candidates of windowed frames (F, W) -> (freq, strength), each (F, max_candidates - 1).

    Missing candidates have frequency 0 and strength -inf. Peaks are ranked by their
    autocorrelation with Praat's octave cost re the floor; only the kept ones are interpolated.
    """
    n_fft = window_r.shape[0]
    spectrum = torch.fft.rfft(frames, n=n_fft)
    ac = torch.fft.irfft(spectrum.real.square_() + spectrum.imag.square(), n=n_fft)[:, : max_lag + 2]
    energy = ac[:, :1]
    r = ac / (energy.clamp_min(torch.finfo(ac.dtype).tiny) * window_r[: max_lag + 2])
    left, mid, right = r[:, min_lag - 1: max_lag], r[:, min_lag: max_lag + 1], r[:, min_lag + 1: max_lag + 2]
    peak = (mid > 0.5 * settings.voicing_threshold) & (mid > left) & (mid >= right) & (energy > 0)
    lag_cost = -settings.octave_cost * torch.log2(
        torch.arange(min_lag, max_lag + 1, device=frames.device, dtype=r.dtype) * (settings.floor_hz / sample_rate))
    rank = torch.where(peak, mid + lag_cost, torch.tensor(-math.inf, dtype=r.dtype, device=r.device))
    k = min(settings.max_candidates - 1, rank.shape[1])
    best = rank.topk(k, dim=1).indices
    chosen = peak.gather(1, best)
    lo, at, hi = left.gather(1, best), mid.gather(1, best), right.gather(1, best)
    dr = 0.5 * (hi - lo)
    d2r = 2 * at - lo - hi
    ok = chosen & (d2r > 0)
    safe = torch.where(ok, d2r, torch.ones_like(d2r))
    offset = torch.where(ok, dr / safe, torch.zeros_like(dr))  # parabolic interpolation of the peak
    freq = sample_rate / ((best + min_lag).to(r.dtype) + offset)
    strength = at + torch.where(ok, 0.5 * dr * dr / safe, torch.zeros_like(dr))
    strength = torch.where(strength > 1, 1 / strength, strength)  # Praat folds strengths above 1 back
    freq = torch.where(chosen, freq, torch.zeros_like(freq))
    strength = torch.where(chosen, strength, torch.full_like(strength, -math.inf))
    return freq, strength


def _viterbi_segments(freq, delta, first, lengths, has_prev, has_next, settings: PitchSettings, torch):
    """Best candidate per frame for a batch of voiced stretches; returns (frame index, candidate) pairs.

    freq, delta: (F, C) per frame; stretch s covers frames first[s] .. first[s] + lengths[s] - 1
    (numpy arrays). Column 0 is the unvoiced candidate. The stretches are sorted by length, so
    step t of the recursion only touches the stretches still running.
    """
    device = freq.device
    order = np.argsort(-lengths, kind="stable")
    first, lengths = first[order], lengths[order]
    has_prev = torch.as_tensor(has_prev[order], device=device)
    has_next = torch.as_tensor(has_next[order], device=device)
    longest = int(lengths[0])
    active = np.searchsorted(-lengths, -np.arange(longest), side="left")  # stretches longer than t
    correction = 0.01 / settings.step_s
    vuc = settings.voiced_unvoiced_cost * correction
    ojc = settings.octave_jump_cost * correction
    first_t = torch.as_tensor(first, device=device)

    voiced_all = (freq > 0) & (freq < settings.ceiling_hz)
    log_f_all = torch.log2(torch.where(voiced_all, freq, torch.ones_like(freq)))
    rows = [first_t[: int(active[t])] + t for t in range(longest)]  # frames at step t of each stretch
    # transition costs into every frame that has a predecessor, all at once: (frames, prev, cur)
    later = torch.cat(rows[1:]) if longest > 1 else first_t[:0]
    vp, vc = voiced_all[later - 1][:, :, None], voiced_all[later][:, None, :]
    jump = ojc * (log_f_all[later - 1][:, :, None] - log_f_all[later][:, None, :]).abs()
    transitions = torch.where(vp & vc, jump, (vp ^ vc).to(jump.dtype) * vuc).split([len(r) for r in rows[1:]])
    del vp, vc, jump
    score = delta[rows[0]] - vuc * (voiced_all[rows[0]] & has_prev[:, None])
    backs, ends = [], []
    for t in range(1, longest + 1):
        n = int(active[t]) if t < longest else 0
        if n < score.shape[0]:  # stretches ending at t - 1: close them
            tail = score[n:] - vuc * (voiced_all[rows[t - 1][n:]] & has_next[n: score.shape[0], None])
            ends.append((n, tail.argmax(dim=1)))
        if n == 0:
            break
        best, arg = (score[:n, :, None] - transitions[t - 1]).max(dim=1)
        backs.append(arg)
        score = best + delta[rows[t]]
    # traceback: every stretch starts from its own end state
    final = torch.zeros(len(first), dtype=torch.long, device=device)
    for n, states in ends:
        final[n: n + len(states)] = states
    state = final[:0]
    out_rows, out_states = [], []
    for t in range(longest - 1, -1, -1):
        n = int(active[t])
        s_t = final[:n].clone()  # stretches ending at t start from their own best end state
        s_t[: state.shape[0]] = state  # the longer ones continue their traceback
        out_rows.append(rows[t])
        out_states.append(s_t)
        if t > 0:
            state = backs[t - 1].gather(1, s_t[:, None])[:, 0]
    return torch.cat(out_rows), torch.cat(out_states)


def track_pitch(
    signals,
    sample_rate: float,
    *,
    settings: PitchSettings = PitchSettings(),
    device=None,
    dtype=None,
    chunk_frames: int | None = None,
) -> list[PitchTrack]:
    """F0 tracks of one or more mono signals, batched.

    Parameters
    ----------
    signals : sequence of 1-D arrays or tensors
        Mono audio, all at ``sample_rate``; any scale (the thresholds are relative).
    sample_rate : float
        Hz.
    settings : PitchSettings
        Praat's parameters; the defaults are Praat's.
    device : torch.device, optional
        Where to compute; default the CPU.
    dtype : torch.dtype, optional
        float32 by default (fast; within a few hundredths of a cent of float64).
    chunk_frames : int, optional
        Frames analysed at once; bounds memory. Default 1024 on the CPU (cache-sized: 2x faster
        than 16384 on one core), 32768 on a GPU.

    Returns
    -------
    list of PitchTrack, one per signal; frames placed as Praat's ``To Pitch``.
    """
    import torch

    settings.check(sample_rate)
    device = device or torch.device("cpu")
    dtype = torch.float32 if dtype is None else dtype
    chunk_frames = chunk_frames or (1024 if device.type == "cpu" else 32768)
    dx = 1.0 / sample_rate
    n_window = int(math.floor(settings.window_s / dx))
    half_window = n_window // 2 - 1
    n_window = 2 * half_window
    n_period = int(math.floor(1.0 / dx / settings.floor_hz))
    half_period = n_period // 2 + 1
    # autocorrelation peaks are looked for at lags 2 .. max_lag (Praat: below maximumLag and half the window);
    # those above the ceiling stay candidates, but the path counts them as unvoiced
    min_lag = 2
    max_lag = min(int(math.floor(n_window / settings.periods_per_window)) + 2, n_window // 2) - 1
    window = _hanning(n_window, torch, device, dtype)
    n_fft = _fft_size(n_window + max_lag + 2)  # no circular wrap-around up to max_lag + 1
    wspec = torch.fft.rfft(window, n=n_fft)
    window_r = torch.fft.irfft(wspec.real ** 2 + wspec.imag ** 2, n=n_fft)
    window_r = window_r / window_r[0]

    tensors, times, owners, lefts = [], [], [], []
    offset = 0
    for i, signal in enumerate(signals):
        x = torch.as_tensor(np.asarray(signal) if not torch.is_tensor(signal) else signal).to(device=device, dtype=dtype)
        if x.ndim != 1:
            raise VoliError(f"track_pitch: signal {i} has shape {tuple(x.shape)}; pass mono 1-D signals")
        t = frame_times(len(x), sample_rate, settings.window_s, settings.step_s)  # Praat: the nominal window
        tensors.append(x - x.mean() if len(x) else x)
        times.append(t)
        # Praat: leftSample = the sample at or before t (1-based index floor((t - x1)/dx) + 1)
        left = np.floor((t - 0.5 * dx) / dx).astype(np.int64)
        lefts.append(left + offset)
        owners.append(np.full(len(t), i))
        offset += len(x)
    if not tensors:
        return []
    audio = torch.cat(tensors) if offset else torch.zeros(0, dtype=dtype, device=device)
    peaks = torch.stack([x.abs().max() if len(x) else torch.zeros((), dtype=dtype, device=device) for x in tensors])
    left_all = torch.as_tensor(np.concatenate(lefts), device=device)
    owner_all = torch.as_tensor(np.concatenate(owners), device=device)
    n_frames = len(left_all)
    n_cand = settings.max_candidates
    freq = torch.zeros((n_frames, n_cand), dtype=dtype, device=device)
    strength = torch.full((n_frames, n_cand), -math.inf, dtype=dtype, device=device)
    intensity = torch.zeros(n_frames, dtype=dtype, device=device)
    left_np = np.concatenate(lefts)
    # chunks never straddle two signals, so each signal's evenly spaced frames can be a strided view
    bounds = np.cumsum([0] + [len(t) for t in times])
    chunks = [(lo, min(lo + chunk_frames, b)) for a, b in zip(bounds[:-1], bounds[1:]) for lo in range(a, b, chunk_frames)]
    span = torch.arange(n_window, device=device)
    # Frames this quiet are unvoiced on the best path whatever their candidates: there the unvoiced
    # score is at least 1 + 2 x the voiced/unvoiced cost (with its time-step correction), more than
    # a voiced candidate (score <= 1) can gain by sparing the path two voicing changes. Their
    # autocorrelation is skipped; the path is exactly the one computing them would give.
    vuc = settings.voiced_unvoiced_cost * 0.01 / settings.step_s
    quiet = (settings.voicing_threshold + 1 - 2 * vuc - 1e-6) * settings.silence_threshold / (1 + settings.voicing_threshold)
    for lo, hi in chunks:
        left = left_all[lo: hi]
        n = hi - lo
        steps = np.diff(left_np[lo: hi])
        hop = int(steps[0]) if len(steps) and steps[0] > 0 and (steps == steps[0]).all() else None
        first_sample = int(left_np[lo]) + 1 - half_window
        if hop is not None:  # whole-sample step: a strided view, no gather
            raw = audio[first_sample: first_sample + (n - 1) * hop + n_window].unfold(0, n_window, hop)
        else:
            raw = audio[(left[:, None] + 1 - half_window) + span]
        # local mean over one floor period each side of the centre (Praat): inside the window
        local_mean = raw[:, half_window - n_period: half_window + n_period].mean(dim=1)
        frames = (raw - local_mean[:, None]) * window
        local_peak = frames[:, half_window - half_period: half_window + half_period].abs().amax(dim=1)
        g = peaks[owner_all[lo: hi]]
        intensity[lo: hi] = torch.where(g > 0, (local_peak / g.clamp_min(1e-30)).clamp_max(1.0), torch.zeros_like(g))
        loud = intensity[lo: hi] > quiet
        if not bool(loud.any()):
            continue
        f, s = _candidates(frames[loud], window_r, sample_rate=sample_rate, settings=settings, min_lag=min_lag,
                           max_lag=max_lag, torch=torch)
        freq[lo: hi, 1:][loud] = f
        strength[lo: hi, 1:][loud] = s

    # local scores: Praat's pathfinder
    unvoiced = (2.0 - intensity / (settings.silence_threshold / (1.0 + settings.voicing_threshold))).clamp_min(0.0)
    unvoiced = settings.voicing_threshold + unvoiced
    is_voiced = (freq > 0) & (freq < settings.ceiling_hz)
    safe_f = torch.where(freq > 0, freq, torch.ones_like(freq))
    delta = torch.where(is_voiced, strength - settings.octave_cost * torch.log2(settings.ceiling_hz / safe_f),
                        unvoiced[:, None].expand_as(freq))
    delta = torch.where(torch.isfinite(strength) | (torch.arange(n_cand, device=device) == 0), delta,
                        torch.full_like(delta, -math.inf))
    delta[:, 0] = unvoiced
    freq[:, 0] = 0.0

    chosen = torch.zeros(n_frames, dtype=torch.long, device=device)
    has_choice = torch.isfinite(delta[:, 1:]).any(dim=1)
    owner_np = np.concatenate(owners)
    choice_np = has_choice.cpu().numpy()
    # voiced stretches: runs of frames with a voiced candidate, within one signal
    starts = choice_np & np.r_[True, ~choice_np[:-1] | (owner_np[1:] != owner_np[:-1])]
    ends = choice_np & np.r_[~choice_np[1:] | (owner_np[1:] != owner_np[:-1]), True]
    first = np.flatnonzero(starts)
    last = np.flatnonzero(ends)
    if len(first):
        has_prev = np.r_[False, owner_np[1:] == owner_np[:-1]][first]
        has_next = np.r_[owner_np[:-1] == owner_np[1:], False][last]
        used = int(torch.isfinite(delta).sum(dim=0).nonzero().max()) + 1  # candidate columns any frame fills
        frames, states = _viterbi_segments(freq[:, :used], delta[:, :used], first, last - first + 1, has_prev, has_next,
                                           settings, torch)
        chosen[frames] = states
    rows = torch.arange(n_frames, device=device)
    f0 = freq[rows, chosen]
    s0 = strength[rows, chosen]
    f0 = torch.where((f0 > 0) & (f0 < settings.ceiling_hz), f0, torch.full_like(f0, math.nan))
    s0 = torch.where(torch.isfinite(f0), s0, torch.zeros_like(s0))
    f0_np, s0_np = f0.cpu().numpy(), s0.cpu().numpy()
    out, at = [], 0
    for t in times:
        out.append(PitchTrack(t, f0_np[at: at + len(t)], s0_np[at: at + len(t)]))
        at += len(t)
    return out


MIN_VOICED_TO_ADAPT = 50  # voiced first-pass frames a speaker needs for adapted pitch limits


def voiced_frames(f0_hz: np.ndarray) -> np.ndarray:
    """The voiced (finite, positive) values of an F0 track, in Hz."""
    hz = np.asarray(f0_hz, dtype=float)
    return hz[np.isfinite(hz) & (hz > 0)]


def speaker_limits(f0_hz: np.ndarray, *, default: tuple[float, float] = (75.0, 600.0),
                   min_voiced: int = MIN_VOICED_TO_ADAPT) -> tuple[float, float]:
    """Speaker-adapted floor and ceiling from a first-pass F0 sample (Hirst 2011).

    floor = 0.75 × Q1, ceiling = 1.5 × Q3 of the voiced frames, rounded to whole Hz and
    kept within 40-1000 Hz; ``default`` when fewer than ``min_voiced`` frames are voiced.
    """
    hz = voiced_frames(f0_hz)
    if len(hz) < min_voiced:
        return default
    q1, q3 = np.percentile(hz, [25, 75])
    floor = float(np.clip(round(0.75 * q1), 40, 500))
    ceiling = float(np.clip(round(1.5 * q3), floor * 2, 1000))
    return floor, ceiling


def adapted_settings(first_pass: list[PitchTrack], base: PitchSettings = PitchSettings()) -> PitchSettings:
    """``base`` with the floor and ceiling adapted to the F0 found in a first pass."""
    f0 = np.concatenate([t.f0_hz for t in first_pass]) if first_pass else np.zeros(0)
    floor, ceiling = speaker_limits(f0, default=(base.floor_hz, base.ceiling_hz))
    return replace(base, floor_hz=floor, ceiling_hz=ceiling)


def semitones(f0_hz, reference_hz: float = 100.0):
    """F0 in semitones re ``reference_hz`` (100 Hz by the voli convention for ``f0_st``)."""
    return 12.0 * np.log2(np.asarray(f0_hz, dtype=float) / reference_hz)
