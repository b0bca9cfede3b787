"""Speaker embeddings: the GE2E encoder whose weights the ``resemblyzer`` package ships.

The encoder (3-layer LSTM over 40 mel channels, 256-d output) is rebuilt here
in torch and loaded from ``resemblyzer/pretrained.pt`` without importing the
package, whose audio helpers need ``webrtcvad`` (and, through it, the
``pkg_resources`` module that current setuptools no longer has).
An utterance is embedded as the normalised mean of the embeddings of its
1.6 s partials (50 % overlap), as in Resemblyzer.

The encoder reads librosa's default power mel spectrogram (centred Hann frames, Slaney mel scale
and area normalisation), computed here in numpy: importing librosa took 1.4-2.9 s of every
transcription's start, for a computation of a few milliseconds
(tests/test_transcribe.py::test_speaker_encoder_mel_is_librosas_without_importing_it holds the two
equal).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from voli.errors import ModelError
from voli.io.audio import SAMPLE_RATE  # resemblyzer's rate, and voli's

N_MELS = 40
WINDOW = 400  # samples (25 ms)
HOP = 160  # samples (10 ms)
PARTIAL = 160  # frames per partial (1.6 s)


def _weights_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("speaker embeddings need the GE2E weights of resemblyzer: pip install --no-deps resemblyzer")
    return Path(spec.submodule_search_locations[0]) / "pretrained.pt"


def _hz_to_mel(hz):
    """Slaney's mel scale (librosa's default, htk=False): linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, np.float64)
    linear = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), linear)


def _mel_to_hz(mel):
    mel = np.asarray(mel, np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = WINDOW, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular filters equally spaced on the mel scale from 0 Hz to ``sr / 2``, each scaled to
    unit area (Slaney): (n_mels, n_fft // 2 + 1), librosa.filters.mel's defaults."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    rising = (bins[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    falling = (edges[2:, None] - bins[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return (weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


_FILTERS = mel_filterbank()
_HANN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)  # periodic


def mel_power(audio: np.ndarray, block: int = 1024) -> np.ndarray:
    """Power mel spectrogram of 16 kHz audio, (frames, N_MELS) float32: frames of WINDOW samples
    every HOP, centred (the signal padded with WINDOW // 2 zeros at each end), as
    librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40). Computed
    ``block`` frames at a time (a long stretch never holds its whole complex spectrogram)."""
    padded = np.pad(np.asarray(audio, np.float32), WINDOW // 2)
    n = 1 + (len(padded) - WINDOW) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::HOP][:n]
    out = np.empty((n, N_MELS), np.float32)
    for i in range(0, n, block):
        spectrum = np.fft.rfft(frames[i: i + block] * _HANN, axis=1)
        out[i: i + block] = (spectrum.real ** 2 + spectrum.imag ** 2) @ _FILTERS.T
    return out


class SpeakerEncoder:
    sample_rate = SAMPLE_RATE

    def __init__(self, device=None):
        import torch

        state = torch.load(_weights_path(), map_location="cpu", weights_only=False)["model_state"]
        self.lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = torch.nn.Linear(256, 256)
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.device = device or torch.device("cpu")
        self.lstm.to(self.device).eval()
        self.linear.to(self.device).eval()

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """A unit-length 256-d voice embedding of 16 kHz speech (at least ~0.3 s)."""
        import torch

        peak = np.abs(audio).max()
        if peak > 0:  # level normalisation (Resemblyzer normalises to -30 dBFS RMS)
            rms = np.sqrt(np.mean(audio ** 2))
            audio = audio * (10 ** (-30 / 20) / max(rms, 1e-9))
        mel = mel_power(audio)
        if len(mel) < PARTIAL:
            mel = np.pad(mel, ((0, PARTIAL - len(mel)), (0, 0)))
        starts = range(0, len(mel) - PARTIAL + 1, PARTIAL // 2)
        batch = torch.from_numpy(np.stack([mel[s: s + PARTIAL] for s in starts])).to(self.device)
        with torch.no_grad():
            _, (hidden, _) = self.lstm(batch)
            partials = torch.relu(self.linear(hidden[-1]))
            partials = partials / partials.norm(dim=1, keepdim=True).clamp_min(1e-9)
            emb = partials.mean(dim=0)
        emb = emb / emb.norm().clamp_min(1e-9)
        return emb.cpu().numpy()

    def embed_windows(self, audio: np.ndarray, spans: list[tuple[int, int]], batch: int = 256) -> np.ndarray:
        """One unit embedding per (start, end) sample span of ``audio`` (16 kHz): each span is one
        partial of its own length (no padding: the LSTM reads each to its last frame), its level
        normalised to -30 dBFS over the span. The mel spectrogram is computed once for the whole
        stretch. Returns (len(spans), 256)."""
        import torch

        mel = mel_power(audio)
        power = np.r_[0.0, np.cumsum(audio.astype(np.float64) ** 2)]
        target = 10 ** (-30 / 10)  # mean power at -30 dBFS
        parts = []
        for s, e in spans:
            a, b = s // HOP, max(s // HOP + 1, min(len(mel), -(-e // HOP)))
            parts.append(torch.from_numpy((mel[a:b] * (target / max((power[e] - power[s]) / max(e - s, 1), 1e-12))).astype(np.float32)))
        out = []
        with torch.no_grad():  # windows of unequal length in one batch, each read to its own last frame
            for i in range(0, len(parts), batch):
                x = torch.nn.utils.rnn.pack_sequence(parts[i: i + batch], enforce_sorted=False).to(self.device)
                _, (hidden, _) = self.lstm(x)
                e = torch.relu(self.linear(hidden[-1]))
                out.append((e / e.norm(dim=1, keepdim=True).clamp_min(1e-9)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 256), np.float32)
