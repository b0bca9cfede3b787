"""``voli simulate``: synthetic interview corpora with exact truth and planted effects.

Writes a complete voli corpus (``recordings.csv``, ``speakers.csv``,
``audio/``) and, under ``truth/``:

* ``<recording_id>.TextGrid``: utterances, words and phones per speaker;
* ``words.parquet``, ``phones.parquet``: the same as tables;
* ``f0.parquet``: the F0 the synthesiser was driven by (Kokoro engine);
* ``vowels.parquet``: every vowel token's F1/F2 before the planted vowel
  effects and the ratios (``f1_ratio``) and glide factors (``f1_glide``) applied;
* ``speaker_params.parquet``: each speaker's rate, F0 and formant settings;
* ``effects.csv`` and ``spec.yaml``: the planted effects.

Same seed, spec and engine → identical files.
"""

from __future__ import annotations

import csv
import json
import shutil
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from voli import espeak, languages
from voli.errors import ConfigError
from voli.io import audio as audio_io
from voli.io.tables import write_table, write_text
from voli.io.textgrid import speaker_tiers, write_textgrid
from voli.simulate.effects import EffectSpec, draw
from voli.simulate.engines import Speech, VoiceParams, make_engine
from voli.simulate.kokoro import Voice
from voli.simulate.text import spoken_words
from voli.simulate.vowels import FormantShift, is_vowel, measure_formants, shift_formants

SPEC_DIR = Path(__file__).parent / "specs"
FEMALE_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")
ESPEAK_VARIANTS = {"woman": ("f1", "f2", "f3", "f4", "f5"), "man": ("m1", "m2", "m3", "m4", "m5", "m6")}
MIN_VOWEL_S = 0.04  # shorter vowel tokens are left as they are (too short to resynthesise)


@dataclass(frozen=True)
class SimulationConfig:
    languages: tuple[str, ...] = ("fr", "es", "pt", "en")
    interviews_per_language: int = 2
    rounds: int = 1  # each interview goes through this many of its language's scripts in turn (longer interviews)
    engine: str = "kokoro"
    sample_rate: int = 16000  # Hz of the written audio
    audio_format: str = "flac"  # flac, wav, mp3 or ogg
    formats: tuple[tuple[str, str], ...] = ()  # (recording_id, format) exceptions to audio_format
    stereo: tuple[str, ...] = ()  # recording IDs written as stereo: interviewer on channel 1
    noise_snr_db: float | None = None  # white noise at this SNR; None = clean
    gap_s: tuple[float, float] = (0.3, 1.0)  # silence between turns, uniform
    seed: int = 1


@dataclass
class SimSpeaker:
    speaker_id: str
    role: str
    language: str
    attributes: dict
    voice: VoiceParams
    vocal_tract: float = 1.0
    centralisation: float = 0.0
    vowel_shift: dict = field(default_factory=dict)
    vowel_glide: dict = field(default_factory=dict)  # (vowel, formant) -> factor of the excursion around the midpoint

    @property
    def ceiling_hz(self) -> float:
        return 5000.0 if self.attributes.get("gender") == "man" else 5500.0


def _voice(gender: str, rng: np.random.Generator, params: dict) -> VoiceParams:
    if gender == "man":
        mix = rng.dirichlet(np.ones(2)) * 0.25
        blend = {"jm_kumo": 0.75 + float(mix[0]), str(rng.choice(FEMALE_VOICES)): float(mix[1])}
        f0_base = 0.85
    else:
        names = rng.choice(FEMALE_VOICES, size=2, replace=False)
        w = float(rng.uniform(0.3, 0.7))
        blend = {str(names[0]): w, str(names[1]): 1 - w}
        f0_base = 1.0
    variants = ESPEAK_VARIANTS[gender]
    return VoiceParams(
        kokoro=Voice.of(**{k: round(v, 4) for k, v in blend.items()}),
        espeak_variant=str(variants[int(rng.integers(len(variants)))]),
        espeak_pitch=35 if gender == "man" else 60,
        rate=params["speech_rate"],
        f0_gain=f0_base * params["f0_level"],
        f0_range=params["f0_range"],
    )


def _rng(seed: int, name: str) -> np.random.Generator:
    """A generator of its own for each speaker and recording: regenerating a subset
    (one language, say) gives the same files as the whole corpus did."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def make_speakers(config: SimulationConfig, spec: EffectSpec) -> list[SimSpeaker]:
    speakers = []
    baseline = {"speech_rate": 1.0, "f0_level": 1.0, "f0_range": 1.0}
    for lang in config.languages:
        rng = _rng(config.seed, f"speakers-{lang}")
        gender = str(rng.choice(["woman", "man"]))
        speakers.append(SimSpeaker(f"INT_{lang.upper()}", "interviewer", lang, {"gender": gender},
                                   _voice(gender, rng, baseline)))
        for i in range(config.interviews_per_language):
            attrs = {a.name: draw(a, rng) for a in spec.attributes}
            attrs.setdefault("gender", str(rng.choice(["woman", "man"])))
            attrs["country"] = languages.get(lang).country
            params = spec.speaker_params(attrs, rng)
            speakers.append(SimSpeaker(f"{lang.upper()}{i + 1:02d}", "interviewee", lang, attrs,
                                       _voice(attrs["gender"], rng, params), params["vocal_tract"],
                                       params["centralisation"], params["vowel_shift"], params["vowel_glide"]))
    return speakers


def _change_vocal_tract(audio: np.ndarray, sample_rate: int, ratio: float, seed: int) -> np.ndarray:
    """Scale all formants by ``ratio`` (Praat's Change gender), keeping pitch and duration.

    Praat's overlap-add resynthesis draws random numbers (for unvoiced
    stretches), so its generator is seeded first: same seed, same samples.
    """
    if abs(ratio - 1.0) < 1e-6:
        return audio
    import parselmouth
    from parselmouth.praat import call, run

    run(f"random_initializeWithSeedUnsafelyButPredictably ({seed})")
    sound = parselmouth.Sound(audio.astype(np.float64), sample_rate)
    changed = call(sound, "Change gender", 75, 600, ratio, 0, 1, 1)
    out = np.asarray(changed.values[0], np.float32)
    if len(out) != len(audio):  # Praat keeps the length; guard the timing anyway
        out = np.pad(out, (0, max(0, len(audio) - len(out))))[: len(audio)]
    return out


def _plant_vowel_effects(turns: list[tuple[SimSpeaker, Speech]], sample_rate: int) -> list[list[dict]]:
    """Centralise / shift each speaker's vowels; returns the truth rows per turn."""
    rows: list[list[dict]] = [[] for _ in turns]
    by_speaker: dict[str, list[int]] = {}
    for t, (spk, _) in enumerate(turns):
        by_speaker.setdefault(spk.speaker_id, []).append(t)
    for sid, turn_ids in by_speaker.items():
        spk = turns[turn_ids[0]][0]
        measured = []
        for t in turn_ids:
            speech = turns[t][1]
            tokens = [p for p in speech.phones if is_vowel(p.phone) and p.end - p.start >= MIN_VOWEL_S]
            mids = np.array([(p.start + p.end) / 2 for p in tokens])
            f = measure_formants(speech.audio, sample_rate, mids, ceiling_hz=spk.ceiling_hz) if tokens else np.zeros((0, 2))
            measured.append((t, tokens, f))
        allf = np.concatenate([f for _, _, f in measured]) if measured else np.zeros((0, 2))
        ok = np.all(np.isfinite(allf), axis=1)
        centre = allf[ok].mean(axis=0) if ok.any() else np.array([np.nan, np.nan])
        for t, tokens, f in measured:
            shifts = []
            for p, (f1, f2) in zip(tokens, f):
                r1 = r2 = 1.0
                if spk.centralisation and np.isfinite(f1) and np.isfinite(f2):
                    r1 = (f1 + spk.centralisation * (centre[0] - f1)) / f1
                    r2 = (f2 + spk.centralisation * (centre[1] - f2)) / f2
                r1 *= spk.vowel_shift.get((p.phone, 1), 1.0)
                r2 *= spk.vowel_shift.get((p.phone, 2), 1.0)
                g1, g2 = spk.vowel_glide.get((p.phone, 1), 1.0), spk.vowel_glide.get((p.phone, 2), 1.0)
                shifts.append(FormantShift(p.start, p.end, r1, r2, g1, g2))
                rows[t].append({"phone": p.phone, "start": p.start, "end": p.end, "word_index": p.word_index,
                                "f1_hz": f1, "f2_hz": f2, "f1_ratio": r1, "f2_ratio": r2,
                                "f1_glide": g1, "f2_glide": g2,
                                "centre_f1_hz": centre[0], "centre_f2_hz": centre[1]})
            speech = turns[t][1]
            # every vowel token is resynthesised, shifted or not, so that the resynthesis itself
            # (which tidies formant tracks a little) is the same for every speaker
            speech.audio = shift_formants(speech.audio, sample_rate, shifts, ceiling_hz=spk.ceiling_hz)
    return rows


def _resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return x
    import soxr

    return soxr.resample(x, from_rate, to_rate, quality="HQ").astype(np.float32)


def simulate(out_dir: str | Path, *, spec: EffectSpec | None = None, config: SimulationConfig = SimulationConfig(),
             progress: bool = True) -> Path:
    """Write a simulated interview corpus with its truth to ``out_dir``; see the module docstring."""
    if config.rounds < 1:
        raise ConfigError(f"rounds = {config.rounds}: an interview goes through at least 1 script (--rounds 1 or more)")
    for lang in config.languages:
        if lang not in languages.codes() or not languages.get(lang).interviews:
            scripted = [code for code in languages.codes() if languages.get(code).interviews]
            raise ConfigError(f"no interview scripts for language {lang!r}; voli simulates {', '.join(scripted)} "
                              "(scripts are the language file's interviews)")
    spec = spec or EffectSpec.load(SPEC_DIR / "sample.yaml")
    out = Path(out_dir)
    for sub in ("audio", "truth"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
        (out / sub).mkdir(parents=True)
    engine = make_engine(config.engine)
    speakers = make_speakers(config, spec)
    by_id = {s.speaker_id: s for s in speakers}
    rec_rows, word_rows, phone_rows, f0_rows, vowel_rows = [], [], [], [], []
    plan = []
    for lang in config.languages:
        for i in range(config.interviews_per_language):
            plan.append((f"{lang}_{i + 1:02d}", lang, f"INT_{lang.upper()}", f"{lang.upper()}{i + 1:02d}", i))
    iterator = plan
    if progress:
        from tqdm import tqdm

        iterator = tqdm(plan, desc="simulate", unit="rec", disable=None)
    for rid, lang, int_id, ee_id, index in iterator:
        rng = _rng(config.seed, rid)
        stereo = rid in config.stereo
        scripts = languages.get(lang).interviews
        script = [turn for k in range(config.rounds) for turn in scripts[(index + k) % len(scripts)]]
        turns = []
        for t, (role, text) in enumerate(script):
            spk = by_id[int_id if role == "interviewer" else ee_id]
            words = spoken_words(text, lang)
            speech = engine.speak(words, lang, spk.voice)
            speech.phones = [replace(ph, phone=espeak.respell(ph.phone, lang)) for ph in speech.phones]
            speech.audio = _change_vocal_tract(speech.audio, speech.sample_rate, spk.vocal_tract,
                                               seed=zlib.crc32(f"{config.seed}-{rid}-{t}".encode()))
            turns.append((spk, speech, words))
        vowel_truth = _plant_vowel_effects([(s, sp) for s, sp, _ in turns], engine.sample_rate)
        rate = config.sample_rate
        lead = 0.5
        gaps = [round(float(rng.uniform(*config.gap_s)), 3) for _ in turns]
        pieces = [_resample(sp.audio, sp.sample_rate, rate) for _, sp, _ in turns]
        total = int(lead * rate) + sum(len(p) for p in pieces) + sum(int(g * rate) for g in gaps)
        mix = np.zeros((total, 2 if stereo else 1), np.float32)
        tg_rows = []
        first_word_row = len(word_rows)  # word_index counts words within the recording
        pos = int(lead * rate)
        for t, ((spk, speech, words), piece, gap) in enumerate(zip(turns, pieces, gaps)):
            ch = (0 if spk.role == "interviewer" else 1) if stereo else 0
            mix[pos: pos + len(piece), ch] += piece
            if stereo:
                mix[pos: pos + len(piece), 1 - ch] += 0.05 * piece  # crosstalk between lapel microphones
            offset = pos / rate
            first, last = speech.words[0].start + offset, speech.words[-1].end + offset
            text = " ".join(w.word + w.punct for w in words)
            tg_rows.append((spk.speaker_id, "utterances", first, last, text))
            utt_id = f"{rid}-{t:06d}"
            base = len(word_rows) - first_word_row
            for w, (tw, sw) in enumerate(zip(speech.words, words)):
                tg_rows.append((spk.speaker_id, "words", tw.start + offset, tw.end + offset, tw.word))
                word_rows.append({"recording_id": rid, "utterance_id": utt_id, "speaker_id": spk.speaker_id,
                                  "role": spk.role, "start": tw.start + offset, "end": tw.end + offset,
                                  "word": tw.word, "is_filler": sw.is_filler, "language": lang})
            for p in speech.phones:
                tg_rows.append((spk.speaker_id, "phones", p.start + offset, p.end + offset, p.phone))
                phone_rows.append({"recording_id": rid, "utterance_id": utt_id, "speaker_id": spk.speaker_id,
                                   "word_index": base + p.word_index, "start": p.start + offset,
                                   "end": p.end + offset, "phone": p.phone, "stress": p.stress})
            if speech.f0_times is not None:
                for ft, fh in zip(speech.f0_times, speech.f0_hz):
                    if 0 <= ft and ft * rate < len(piece):
                        f0_rows.append({"recording_id": rid, "speaker_id": spk.speaker_id,
                                        "time": float(ft + offset), "f0_hz": float(fh)})
            for v in vowel_truth[t]:
                vowel_rows.append({"recording_id": rid, "speaker_id": spk.speaker_id, **v,
                                   "word": speech.words[v["word_index"]].word,
                                   "start": v["start"] + offset, "end": v["end"] + offset,
                                   "word_index": base + v["word_index"]})
            pos += len(piece) + int(gap * rate)
        if config.noise_snr_db is not None:
            speech_rms = float(np.sqrt(np.mean(mix[mix != 0] ** 2)))
            mix += (rng.standard_normal(mix.shape) * speech_rms / 10 ** (config.noise_snr_db / 20)).astype(np.float32)
        mix *= 0.9 / max(float(np.abs(mix).max()), 1e-9)  # peak at -0.9 dBFS
        ext = dict(config.formats).get(rid, config.audio_format)
        audio_rel = f"audio/{rid}.{ext}"
        audio_io.write(out / audio_rel, mix if stereo else mix[:, 0], rate)
        write_textgrid(out / "truth" / f"{rid}.TextGrid", speaker_tiers(tg_rows), duration_s=total / rate)
        rec_rows.append({"recording_id": rid, "audio": audio_rel, "language": lang, "interviewer": int_id,
                         "interviewee": ee_id, "channels": f"1={int_id};2={ee_id}" if stereo else ""})
    _write_csv(out / "recordings.csv", rec_rows)
    attr_names = ["gender", *[a.name for a in spec.attributes if a.name != "gender"], "country"]
    _write_csv(out / "speakers.csv", [{"speaker_id": s.speaker_id, **{a: s.attributes.get(a, "") for a in attr_names}}
                                      for s in speakers])
    truth = out / "truth"
    for name, rows in (("words", word_rows), ("phones", phone_rows), ("f0", f0_rows), ("vowels", vowel_rows)):
        if rows:
            write_table(pa.Table.from_pylist(rows), truth / f"{name}.parquet")
    write_table(pa.Table.from_pylist([{
        "speaker_id": s.speaker_id, "role": s.role, "language": s.language,
        "kokoro_voice": ",".join(f"{k}={v}" for k, v in s.voice.kokoro.blend), "espeak_variant": s.voice.espeak_variant,
        "speech_rate": s.voice.rate, "f0_gain": s.voice.f0_gain, "f0_range": s.voice.f0_range,
        "vocal_tract": s.vocal_tract, "centralisation": s.centralisation,
        "vowel_shift": ";".join(f"{v}:F{k}={r:.4f}" for (v, k), r in sorted(s.vowel_shift.items())),
        "vowel_glide": ";".join(f"{v}:F{k}={r:.4f}" for (v, k), r in sorted(s.vowel_glide.items())),
    } for s in speakers]), truth / "speaker_params.parquet")
    write_text(_survey_yaml(spec), out / "survey.yaml")
    _write_csv(truth / "effects.csv", spec.table_rows() or [{"measure": "", "attribute": ""}])
    write_text(_spec_yaml(spec, config), truth / "spec.yaml")
    write_text(json.dumps(made_on(), indent=1) + "\n", truth / "machine.json")
    return out


def made_on() -> dict:
    """What a simulated corpus's audio depends on beyond the seed: onnxruntime (Kokoro) and numpy's
    BLAS pick kernels by the CPU's vector extensions, so a corpus is regenerated byte for byte
    only on a machine with the same extensions and library versions (truth/machine.json)."""
    import importlib.metadata

    from voli.reproducibility import VECTOR_FLAGS, cpu_flags, cpu_model

    flags = cpu_flags()
    return {"cpu": cpu_model(), "vector_extensions": [f for f in VECTOR_FLAGS if f in flags],
            "onnxruntime": importlib.metadata.version("onnxruntime"), "numpy": importlib.metadata.version("numpy")}


def _write_csv(path: Path, rows: list[dict]) -> None:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(buf.getvalue(), path)


def _attribute_types(spec: EffectSpec) -> dict:
    return {a.name: ({"levels": list(a.levels), "ordered": a.ordered} if a.levels else {"range": list(a.range)})
            for a in spec.attributes}


def _survey_yaml(spec: EffectSpec) -> str:
    """The corpus's survey.yaml: the attributes' types, as a researcher would declare them."""
    import yaml

    header = "# Types of the speakers.csv attributes (voli profile); undeclared columns are inferred.\n"
    data = {"attributes": _attribute_types(spec)}
    # attributes planted on the voice itself (vocal tract, F0 level) are controls of every other model
    physical = [a.name for a in spec.attributes
                if any(e.attribute == a.name and e.measure in ("vocal_tract", "f0_level") for e in spec.effects)]
    if physical:
        data["controls"] = physical
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _spec_yaml(spec: EffectSpec, config: SimulationConfig) -> str:
    import yaml

    data = {
        "simulation": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()
                       if k != "rounds" or v != 1},  # (a corpus made before rounds existed reads the same)
        "attributes": _attribute_types(spec),
        "effects": [{k: v for k, v in asdict(e).items() if v not in (None, {}, 1) or k == "measure"} for e in spec.effects],
        "between_speaker_sd": spec.between_speaker_sd,
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_user_transcripts(corpus_dir: str | Path, *, widen_s: float = 0.3) -> Path:
    """Give a simulated corpus the transcripts a linguist would have: the true words, one
    interval per turn on a ``<speaker> - utterances`` tier, with loose times (each turn widened by
    ``widen_s`` on both sides, never into its neighbours), in ``transcripts/<rid>.TextGrid``;
    recordings.csv's ``transcript`` column points at them.

    Transcription then keeps these words (only timings and speakers come from Whisper), so the
    alignment can be judged without speech-recognition errors.
    """
    import csv

    import pandas as pd

    from voli.io.textgrid import Interval

    corpus = Path(corpus_dir)
    words = pd.read_parquet(corpus / "truth" / "words.parquet")
    rows = list(csv.DictReader((corpus / "recordings.csv").open(encoding="utf-8")))
    for row in rows:
        rid = row["recording_id"]
        turns = (words[words.recording_id == rid].sort_values("start").groupby("utterance_id", sort=False)
                 .agg(speaker_id=("speaker_id", "first"), start=("start", "min"), end=("end", "max"),
                      text=("word", " ".join)).sort_values("start").reset_index(drop=True))
        duration = audio_io.probe(corpus / row["audio"]).duration_s
        tiers: dict[str, list] = {}
        for k, t in turns.iterrows():
            lo = max(0.0, t.start - widen_s, (turns.end[k - 1] + t.start) / 2 if k else 0.0)
            hi = min(duration, t.end + widen_s, (t.end + turns.start[k + 1]) / 2 if k + 1 < len(turns) else duration)
            tiers.setdefault(f"{t.speaker_id} - utterances", []).append(Interval(lo, hi, t.text))
        write_textgrid(corpus / "transcripts" / f"{rid}.TextGrid", tiers, duration_s=duration)
        row["transcript"] = f"transcripts/{rid}.TextGrid"
    _write_csv(corpus / "recordings.csv", rows)
    return corpus
