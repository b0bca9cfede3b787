"""Audio IO: known tones come back at their frequency after resampling and chunking."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import SAMPLE, tone
from voli.errors import AudioError
from voli.io import audio


def peak_hz(x: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sample_rate)[np.argmax(spectrum)]


def test_resampled_tone_keeps_its_frequency_and_length(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(440, 2.0, 44100), 44100)
    x = audio.load(path, sample_rate=16000)
    assert abs(len(x) - 32000) <= 1
    assert peak_hz(x, 16000) == pytest.approx(440, abs=0.6)
    assert np.max(np.abs(x)) == pytest.approx(0.5, abs=0.01)


def test_streamed_resampling_matches_one_shot(tmp_path):
    path = tmp_path / "a.flac"
    rng = np.random.default_rng(0)
    sf.write(path, (0.3 * rng.standard_normal(22050 * 3)).astype(np.float32), 22050)
    chunked = np.concatenate(list(audio.iter_resampled(path, sample_rate=16000, block_s=0.137)))
    whole = np.concatenate(list(audio.iter_resampled(path, sample_rate=16000, block_s=100)))
    assert len(chunked) == len(whole)
    assert np.max(np.abs(chunked - whole)) < 1e-4  # no seams at block boundaries


def test_channel_selection(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([tone(500, 1.0), tone(300, 1.0)], axis=1), 16000)
    assert peak_hz(audio.load(path, channel=2), 16000) == pytest.approx(300, abs=1)
    assert peak_hz(audio.load(path, channel=1), 16000) == pytest.approx(500, abs=1)
    with pytest.raises(AudioError, match="channel 3 requested but the file has 2"):
        audio.load(path, channel=3)


def test_scan_levels_and_clipping(tmp_path):
    x = tone(100, 1.0, amplitude=0.5)
    x[:160] = 1.0  # 1 % of the samples at full scale
    path = tmp_path / "clip.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    stats = audio.scan(path)
    assert stats.peak_dbfs == pytest.approx(0.0, abs=1e-6)
    assert stats.clipped_fraction == pytest.approx(0.01)
    assert len(stats.sha256) == 64


@pytest.mark.parametrize("name", ["es_02.mp3", "fr_02.wav", "en_02.flac"])
def test_sample_formats_decode(name):
    info = audio.probe(SAMPLE / "audio" / name)
    x = audio.load(SAMPLE / "audio" / name, sample_rate=16000)
    assert abs(len(x) / 16000 - info.duration_s) < 0.06
    assert np.sqrt(np.mean(x**2)) > 0.01  # speech, not silence


def test_probe_errors_name_the_file(tmp_path):
    with pytest.raises(AudioError, match=r"missing.wav: audio file not found"):
        audio.probe(tmp_path / "missing.wav")
    (tmp_path / "x.aac").write_bytes(b"1234")
    with pytest.raises(AudioError, match=r"x.aac: unsupported audio type '.aac'.*ffmpeg -i x.aac"):
        audio.probe(tmp_path / "x.aac")
