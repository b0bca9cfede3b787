"""Configuration: one dataclass per stage, read from and written to YAML.

A config file has one section per stage; every key is optional and falls
back to the defaults below. Unknown keys and values of the wrong type are
errors that name the file and the key, never silently ignored::

    prepare:
      clip_level: 0.99
    transcribe:
      model: base

Each stage later in the pipeline adds its own section when it lands.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from voli.errors import ConfigError


@dataclass(frozen=True)
class PrepareConfig:
    clip_level: float = 0.999  # |sample| >= this (full scale = 1) counts as clipped


@dataclass(frozen=True)
class AsrConfig:
    model: str = "base"  # Whisper model: base and tiny.en install from PyPI; others need the network
    vad_threshold: float = 0.5  # Silero speech probability above which a frame is speech
    max_window_s: float = 30.0  # speech is decoded in windows of at most this length
    window_pad_s: float = 0.4  # audio kept around each stretch of speech in a window (faster-whisper's VAD pads 0.4 s)
    keep_fillers: bool = True  # prompt Whisper with filled pauses so that it writes them
    expand_numbers: bool = True  # "100" -> "cem" / "cent" / "one hundred", so alignment can say them
    crosstalk_db: float = 6.0  # multi-channel: a channel's speech counts only if this much louder than the others
    batch_size: int = 8  # windows encoded and decoded together (1: one at a time)
    backend: str = "auto"  # faster-whisper (CTranslate2 int8) on the CPU, batched openai-whisper on a GPU; or name one
    # -- the decoding rule (voli.asr.decoding.needs_fallback): faster-whisper's defaults --
    beam_size: int = 5  # beam search at temperature 0 (1: greedy)
    best_of: int = 5  # samples drawn at each fallback temperature
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # tried in turn while a window needs fallback
    compression_ratio_max: float = 2.4  # a decoding that compresses more than this is a repetition loop
    logprob_min: float = -1.0  # ... one whose mean token log-probability is lower is a guess
    no_speech_min: float = 0.6  # ... unless Whisper's no-speech probability is above this: silence, no words
    min_words_per_s: float = 0.5  # ... and one with fewer words a second of speech (a stray word) is decoded again
    rest_s: float = 2.0  # a decoding whose last timestamp is this far before its speech's end goes on from there
    condition_on_previous_text: bool = False  # give Whisper the words before each window (windows then go one by one)

    def __post_init__(self):
        limits = {"max_window_s": (1.0, 30.0), "window_pad_s": (0.0, 2.0), "batch_size": (1, None), "beam_size": (1, None), "best_of": (1, None),
                  "compression_ratio_max": (1.0, None), "min_words_per_s": (0.0, None), "no_speech_min": (0.0, 1.0), "vad_threshold": (0.0, 1.0)}
        for name, (low, high) in limits.items():
            _check_range(self, name, low, high)
        if not self.temperatures or self.temperatures[0] != 0.0 or list(self.temperatures) != sorted(self.temperatures):
            raise ConfigError(f"temperatures = {list(self.temperatures)}: must rise from 0.0 (the default is "
                              "[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]; [0.0] turns the fallback off)")


def _check_range(config, name: str, low, high) -> None:
    value = getattr(config, name)
    if value < low or (high is not None and value > high):
        default = {f.name: f.default for f in dataclasses.fields(config)}[name]
        allowed = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} = {value}: must be {allowed} (the default is {default})")


@dataclass(frozen=True)
class AlignConfig:
    dictionary: str | None = None  # MFA-format pronunciation dictionary; its entries win over espeak-ng's G2P
    model: str | None = None  # a saved alignment model directory (e.g. a run's align model/): align, don't train
    iterations: int = 30  # Viterbi training iterations of the final pass (a first pass of 10 finds the pauses)
    max_components: int = 8  # Gaussians per HMM state at most
    frame_shift_ms: float = 10.0  # feature frame step: the time resolution of the boundaries
    pad_s: float = 0.4  # audio kept around an utterance's first and last word (Whisper's word times are rough)
    batch_size: int = 16  # utterances aligned together
    share_phones: bool = True  # languages share the models of phones with the same IPA label
    max_train_hours: float = 10.0  # speech used for training at most (utterances spread over the corpus)
    # a Gaussian's variance is pulled toward the global one as if by this many frames (0: no pull; a
    # phone seen a few times then gets needle-thin Gaussians that outscore silence)
    variance_prior_frames: float = 30.0
    # A Whisper word stays near its ASR times: its phones pay a penalty before (start - early_slack_s)
    # or after (end + late_slack_s). Whisper's word times run early, seldom late, so the early
    # slack is the tighter one. Words below window_min_probability (likely misheard) and words a
    # user's transcript adds have no such limit.
    early_slack_s: float = 0.3
    late_slack_s: float = 0.8
    window_min_probability: float = 0.5
    retrain: bool = False  # train the model again now, on corrected words where corrections/ has them (--retrain)

    def __post_init__(self):
        limits = {"iterations": (1, None), "max_components": (1, None), "frame_shift_ms": (1.0, 50.0),
                  "pad_s": (0.0, None), "batch_size": (1, None), "max_train_hours": (0.0, None),
                  "variance_prior_frames": (0.0, None),
                  "early_slack_s": (0.0, None), "late_slack_s": (0.0, None), "window_min_probability": (0.0, 1.0)}
        for name, (low, high) in limits.items():
            _check_range(self, name, low, high)


@dataclass(frozen=True)
class FeatureConfig:
    pitch_floor_hz: float = 60.0  # first pitch pass; then each speaker gets 0.75 x Q1 .. 1.5 x Q3 of it
    pitch_ceiling_hz: float = 700.0
    adapt_pitch: bool = True  # False: one pass with the floor and ceiling above
    pitch_step_s: float = 0.01  # pitch frame step
    formant_ceiling_low_hz: float = 4500.0  # the multiple-ceiling search tries formant_ceilings
    formant_ceiling_high_hz: float = 7000.0  # ceilings evenly spaced in this range
    formant_ceilings: int = 12
    max_formants: int = 5  # LPC order = 2 x this (Praat's "number of formants")
    formant_window_s: float = 0.025  # Praat's "window length" (the Gaussian window spans twice this)
    intensity_floor_hz: float = 100.0  # Praat's "minimum pitch" for intensity: window 6.4 / this s
    min_pause_s: float = 0.2  # a silent gap between words at least this long is a pause
    token_margin_s: float = 0.04  # audio on each side of a vowel for its formant frames' windows
    pad_s: float = 0.1  # audio read around each utterance's words
    pitch_tiers: bool = True  # write Praat PitchTier files (features' pitchtiers/)
    formant_tier: bool = True  # write TextGrids with a formant point tier per speaker (features' textgrids/)


@dataclass(frozen=True)
class ProfileConfig:
    roles: tuple[str, ...] = ("interviewee",)  # whose speech the statistics describe
    min_word_probability: float = 0.5  # vowel tokens in words Whisper was less sure of are left out (0: keep all)
    min_speaker_confidence: float = 0.8  # ... and in words whose speaker is less sure than this (0: keep all)
    keep_overlap: bool = False  # keep vowel tokens of words said over another voice (their formants are mixed)
    max_abs_duration_z: float = 3.0  # ... and those whose aligned duration is implausible for the phone
    min_vowel_s: float = 0.03  # ... and vowels shorter than this (formants of 1-2 frames)
    pillai_pairs: tuple[str, ...] = ()  # extra vowel pairs for Pillai scores, "language:a-b" (e.g. "fr:e-ɛ")
    clusters: int = 0  # Ward clusters of the speakers; 0 = chosen by the silhouette (2-6)
    permutations: int = 200  # permutations behind each prediction p-value (and the PCA's component test)
    # -- models (voli.profile.models) --
    controls: tuple[str, ...] = ()  # attributes adjusted for in the model of every other attribute, e.g. [gender, age]
    interactions: tuple[str, ...] = ()  # "attribute:control" pairs fitted with their product, e.g. "education:gender"
    language: str = "term"  # several languages: "term" (a language term in every model) or "separate" (models per language)
    engine: str = "auto"  # mixed models: "lme4" (R's lme4 + lmerTest), "statsmodels", or "auto" (lme4 when R has it)
    word_effect: bool = True  # token models: (1 | word) beside (1 | speaker) (lme4 only: statsmodels cannot cross them)
    per_vowel: bool = True  # formant models per vowel and language (the most numerous: vowels x formants x attributes)
    context: bool = False  # per-vowel models: the previous and next phone's class and the stress as controls
    attributes: tuple[str, ...] = ()  # attributes to test (beside those survey.yaml declares, controls, interactions)
    explore: bool = False  # also test the undeclared speakers.csv columns, each family apart ("explore: ...")
    vowel_scale: str = "normalised"  # per-vowel models: the primary test's scale ("normalised": Lobanov 2.0, or "hz");
    # the other scale is fitted as a sensitivity check, its own family, outside the report-wide FDR
    ddf: str = "auto"  # lme4 df: "kenward-roger", "satterthwaite", or "auto" (Kenward-Roger up to kr_max_rows rows)
    kr_max_rows: int = 400  # auto: Kenward-Roger up to this many rows, Satterthwaite above (pbkrtest at 800 rows of
    # a 12-speaker corpus: 42 s against 6.8 s; its cost grows with the rows cubed)
    word_slopes: bool = False  # per-vowel lme4 models: (1 + attribute | word); simplified to (1 | word) if it fails
    min_vowel_tokens: int = 5  # per-vowel models: tokens a speaker needs of a vowel to enter its model
    min_pillai_tokens: int = 20  # Pillai scores need this many tokens of each vowel (fewer: NaN; counts written beside)
    stressed_only: bool = False  # vowel tokens: keep only those with lexical stress (where the lexicon marks it)
    max_vowel_s: float = 0.5  # ... and leave out vowels longer than this (s; lengthened hesitations, misalignments)
    checked_only: bool = False  # only recordings a linguist corrected (WORKDIR/corrections/): their tokens and utterances


@dataclass(frozen=True)
class VoliConfig:
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    transcribe: AsrConfig = field(default_factory=AsrConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    profile: ProfileConfig = field(default_factory=ProfileConfig)

    def section(self, name: str):
        """The config of one stage, or None for a stage without options."""
        return getattr(self, name, None)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(value, hint, where: str):
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is getattr(__import__("types"), "UnionType", None):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (str, bool) and isinstance(value, hint):
        return value
    if typing.get_origin(hint) in (list, tuple) and isinstance(value, list):
        (item,) = typing.get_args(hint)[:1]
        return tuple(_coerce(v, item, where) for v in value)
    raise ConfigError(f"{where}: {value!r} is not a valid {getattr(hint, '__name__', hint)}")


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(names)}"
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")
        if dataclasses.is_dataclass(hints[key]):
            kwargs[key] = _build(hints[key], value or {}, f"{where}.{key}")
        else:
            kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{where}.{err}") from None


def load_config(path: str | Path | None = None) -> VoliConfig:
    """Read a YAML config file; ``None`` gives the defaults."""
    if path is None:
        return VoliConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    return _build(VoliConfig, data, str(path))


def dump_yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
