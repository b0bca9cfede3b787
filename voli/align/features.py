"""Acoustic features for alignment: MFCC + deltas, per-speaker mean and variance normalisation.

The same torch code runs on the CPU and the GPU: the waveform's device is the
features' device. Frames are centred: frame ``t`` describes the audio around
``t * shift`` seconds, so a boundary between frames ``t - 1`` and ``t`` lies
at ``(t - 0.5) * shift``.
"""

from __future__ import annotations

import torch

from voli.io.audio import SAMPLE_RATE  # the rate SegmentReader gives the features

WINDOW_S = 0.025
N_CEPS = 13
N_MELS = 23  # as Kaldi's and HTK's MFCC defaults for 16 kHz speech
PREEMPHASIS = 0.97

_transforms: dict = {}


def _mfcc_transform(shift_s: float, device):
    key = (shift_s, str(device))
    if key not in _transforms:
        import torchaudio

        win = int(round(WINDOW_S * SAMPLE_RATE))
        _transforms[key] = torchaudio.transforms.MFCC(
            sample_rate=SAMPLE_RATE, n_mfcc=N_CEPS, log_mels=True,
            melkwargs={"n_fft": 512, "win_length": win, "hop_length": int(round(shift_s * SAMPLE_RATE)),
                       "n_mels": N_MELS, "f_min": 20.0, "f_max": 7600.0, "center": True,
                       "window_fn": torch.hamming_window, "power": 2.0},
        ).to(device)
    return _transforms[key]


def mfcc(wave: torch.Tensor, shift_s: float = 0.01) -> torch.Tensor:
    """13 MFCCs with first and second differences: (frames, 39), on ``wave``'s device.

    ``wave``: mono 16 kHz samples, shape (samples,).
    """
    x = torch.cat([wave[:1], wave[1:] - PREEMPHASIS * wave[:-1]])
    ceps = _mfcc_transform(shift_s, wave.device)(x.float())  # (13, frames)
    import torchaudio.functional as AF

    d1 = AF.compute_deltas(ceps, win_length=5)
    d2 = AF.compute_deltas(d1, win_length=5)
    return torch.cat([ceps, d1, d2], dim=0).T.contiguous()


def cmvn(feats: list[torch.Tensor]) -> list[torch.Tensor]:
    """Normalise a speaker's utterances to zero mean and unit variance per dimension, with
    statistics pooled over all of them (speaker-level CMVN, as Kaldi's apply-cmvn --utt2spk)."""
    allf = torch.cat(feats)
    mean = allf.mean(0)
    std = allf.std(0).clamp_min(1e-3)
    return [(f - mean) / std for f in feats]
