"""Resynthesise vowel tokens with shifted formants, and splice them back.

For each token: take the stretch of speech around it, band-limit it to the
formant ceiling, estimate its formants (Burg), separate source and filter by
LPC inverse filtering, filter the source again through the formant tracks
with F1 and F2 multiplied inside the vowel (a Praat FormantGrid), and cross-
fade the result into the original over the vowel's span. Everything above
the ceiling, and everything outside the vowel, is the original signal. A glide
factor scales the formant's excursion around its midpoint value instead (the
midpoint stays); the cross-fade (FADE_S at each edge) leaves a token's first and
last 10 ms closer to the original.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voli.languages import is_vowel  # noqa: F401 - the simulator's vowels are the aligner's

MARGIN_S = 0.05  # context analysed on each side of a token
FADE_S = 0.01  # cross-fade at each edge of the spliced vowel


@dataclass(frozen=True)
class FormantShift:
    """What to do to one token's F1 and F2: F(t) -> ratio x (F_mid + glide x (F(t) - F_mid)), F_mid
    the formant at the token's midpoint (a glide factor scales the excursion around it)."""

    start: float  # s
    end: float  # s
    f1_ratio: float
    f2_ratio: float
    f1_glide: float = 1.0
    f2_glide: float = 1.0


def measure_formants(audio: np.ndarray, sample_rate: int, times: np.ndarray, *, ceiling_hz: float = 5500.0) -> np.ndarray:
    """F1 and F2 (Hz) at the given times, Praat's Burg method; shape (n, 2), NaN where undefined."""
    import parselmouth

    sound = parselmouth.Sound(audio.astype(np.float64), sample_rate)
    formant = sound.to_formant_burg(time_step=0.005, max_number_of_formants=5, maximum_formant=ceiling_hz)
    return np.array([[formant.get_value_at_time(k, float(t)) for k in (1, 2)] for t in times])


def shift_formants(audio: np.ndarray, sample_rate: int, shifts: list[FormantShift], *,
                   ceiling_hz: float = 5500.0) -> np.ndarray:
    """Return a copy of ``audio`` with each token's F1 and F2 scaled (and their glides stretched)."""
    import parselmouth
    from parselmouth.praat import call

    out = audio.astype(np.float64).copy()
    band_rate = 2 * ceiling_hz
    for s in shifts:  # a token with ratios 1.0 is resynthesised too, so every vowel is processed alike
        a = max(0, int((s.start - MARGIN_S) * sample_rate))
        b = min(len(out), int((s.end + MARGIN_S) * sample_rate))
        seg = parselmouth.Sound(out[a:b], sample_rate)
        low = seg.resample(band_rate)
        formant = low.to_formant_burg(time_step=0.005, max_number_of_formants=5, maximum_formant=ceiling_hz)
        grid = call(formant, "Down to FormantGrid")
        t0, t1 = s.start - a / sample_rate, s.end - a / sample_rate
        for k, ratio, glide in ((1, s.f1_ratio, s.f1_glide), (2, s.f2_ratio, s.f2_glide)):
            if ratio == 1.0 and glide == 1.0:
                continue
            frames = [(t, formant.get_value_at_time(k, t)) for t in formant.xs() if t0 <= t <= t1]
            mid = formant.get_value_at_time(k, 0.5 * (t0 + t1))
            if not np.isfinite(mid):
                glide = 1.0  # no midpoint to glide around: the token keeps its movement
            call(grid, "Remove formant points between", k, t0, t1)
            for t, f in frames:
                if np.isfinite(f):
                    call(grid, "Add formant point", k, t, ratio * (mid + glide * (f - mid) if glide != 1.0 else f))
        lpc = call(low, "To LPC (burg)", 10, 0.025, 0.005, 50.0)
        source = call([low, lpc], "Filter (inverse)")
        new_low = call([source, grid], "Filter")
        new_low = np.asarray(new_low.resample(sample_rate).values[0])
        old_low = np.asarray(low.resample(sample_rate).values[0])
        n = min(len(new_low), len(old_low), b - a)
        new_low, old_low = new_low[:n], old_low[:n]
        # match the level of the original vowel
        i0, i1 = int(t0 * sample_rate), int(t1 * sample_rate)
        rms_old = np.sqrt(np.mean(old_low[i0:i1] ** 2))
        rms_new = np.sqrt(np.mean(new_low[i0:i1] ** 2))
        if rms_new > 0:
            new_low *= rms_old / rms_new
        replaced = out[a:a + n] - old_low + new_low  # original high band + shifted low band
        weight = np.zeros(n)
        fade = max(1, int(FADE_S * sample_rate))
        weight[i0:i1] = 1.0
        ramp = np.linspace(0.0, 1.0, fade)
        weight[i0:i0 + fade] = ramp[: len(weight[i0:i0 + fade])]
        weight[max(i1 - fade, i0):i1] = np.minimum(weight[max(i1 - fade, i0):i1], ramp[::-1][-len(weight[max(i1 - fade, i0):i1]):])
        out[a:a + n] = (1 - weight) * out[a:a + n] + weight * replaced
    return out.astype(np.float32)
