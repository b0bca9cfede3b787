"""Configuration: one dataclass per stage, read from and written to YAML.

A config file has one section per stage; every key is optional and falls
back to the defaults below. Unknown keys, values of the wrong type and values
out of range are errors that name the file, the key, what is allowed and the
default, never silently ignored::

    prepare:
      clip_level: 0.99
    transcribe:
      model: base

Every check lives here (:func:`validate`): a key's range or choices sit beside
its default (``option(...)``), and checks between keys in the class's ``relations``.
A section object is checked whenever one is made, from a file or in code
(``dataclasses.replace`` included), so the stages can trust what they get.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from voli.errors import ConfigError


def option(default, *, low=None, high=None, above=None, choices=None):
    """A config key's default and what it may be: ``low`` <= value <= ``high``, value > ``above``,
    or one of ``choices`` (checked by :func:`validate`)."""
    return field(default=default, metadata={"low": low, "high": high, "above": above, "choices": choices})


def validate(config) -> None:
    """Check every key of a config section against its ``option`` limits, then the section's
    ``relations`` (checks between keys); the first problem raises :class:`ConfigError` as
    ``key = value: what is allowed (the default is ...)``."""
    for f in dataclasses.fields(config):
        rules, value = f.metadata, getattr(config, f.name)
        if not rules:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if rules["choices"] is not None and value not in rules["choices"]:
            raise ConfigError(f"{f.name} = {value!r}: use one of {', '.join(map(str, rules['choices']))} "
                              f"(the default is {default})")
        low, high, above = rules["low"], rules["high"], rules["above"]
        if (low is not None and value < low) or (high is not None and value > high) or (above is not None and value <= above):
            allowed = (f"between {low} and {high}" if low is not None and high is not None else
                       f"at least {low}" if low is not None else f"at most {high}" if above is None else
                       f"above {above}" + (f" and at most {high}" if high is not None else ""))
            raise ConfigError(f"{f.name} = {value}: must be {allowed} (the default is {default})")
    for problem in config.relations():
        raise ConfigError(problem)


class _Checked:
    """A config section checked by :func:`validate` when it is made."""

    def __post_init__(self):
        validate(self)

    def relations(self) -> list[str]:
        """Problems between keys (none by default)."""
        return []


@dataclass(frozen=True)
class PrepareConfig(_Checked):
    clip_level: float = option(0.999, above=0.0, high=1.0)  # |sample| >= this (full scale = 1) counts as clipped


@dataclass(frozen=True)
class AsrConfig(_Checked):
    model: str = "base"  # Whisper model: base and tiny.en install from PyPI; others need the network
    vad_threshold: float = option(0.5, low=0.0, high=1.0)  # Silero speech probability above which a frame is speech
    max_window_s: float = option(30.0, low=1.0, high=30.0)  # speech is decoded in windows of at most this length
    window_pad_s: float = option(0.4, low=0.0, high=2.0)  # audio kept around each stretch of speech in a window (faster-whisper's VAD pads 0.4 s)
    keep_fillers: bool = True  # prompt Whisper with filled pauses so that it writes them
    expand_numbers: bool = True  # "100" -> "cem" / "cent" / "one hundred", so alignment can say them
    crosstalk_db: float = option(6.0, low=0.0)  # multi-channel: a channel's speech counts only if this much louder than the others
    batch_size: int = option(8, low=1)  # windows encoded and decoded together (1: one at a time)
    backend: str = option("auto", choices=("auto", "faster-whisper", "openai-whisper"))  # faster-whisper (CTranslate2 int8) on the CPU, batched openai-whisper on a GPU; or name one
    # -- the decoding rule (voli.asr.decoding.needs_fallback): faster-whisper's defaults --
    beam_size: int = option(5, low=1)  # beam search at temperature 0 (1: greedy)
    best_of: int = option(5, low=1)  # samples drawn at each fallback temperature
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # tried in turn while a window needs fallback
    compression_ratio_max: float = option(2.4, low=1.0)  # a decoding that compresses more than this is a repetition loop
    logprob_min: float = option(-1.0, high=0.0)  # ... one whose mean token log-probability is lower is a guess
    no_speech_min: float = option(0.6, low=0.0, high=1.0)  # ... unless Whisper's no-speech probability is above this: silence, no words
    min_words_per_s: float = option(0.5, low=0.0)  # ... and one with fewer words a second of speech (a stray word) is decoded again
    rest_s: float = option(2.0, above=0.0)  # a decoding whose last timestamp is this far before its speech's end goes on from there
    condition_on_previous_text: bool = False  # give Whisper the words before each window (windows then go one by one)

    def relations(self) -> list[str]:
        if not self.temperatures or self.temperatures[0] != 0.0 or list(self.temperatures) != sorted(self.temperatures):
            return [f"temperatures = {list(self.temperatures)}: must rise from 0.0 (the default is "
                    "[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]; [0.0] turns the fallback off)"]
        return []


@dataclass(frozen=True)
class AlignConfig(_Checked):
    dictionary: str | None = None  # MFA-format pronunciation dictionary; its entries win over espeak-ng's G2P
    model: str | None = None  # a saved alignment model directory (e.g. a run's align model/): align, don't train
    iterations: int = option(30, low=1)  # Viterbi training iterations of the final pass (a first pass of 10 finds the pauses)
    max_components: int = option(8, low=1)  # Gaussians per HMM state at most
    frame_shift_ms: float = option(10.0, low=1.0, high=50.0)  # feature frame step: the time resolution of the boundaries
    pad_s: float = option(0.4, low=0.0)  # audio kept around an utterance's first and last word (Whisper's word times are rough)
    batch_size: int = option(16, low=1)  # utterances aligned together
    share_phones: bool = True  # languages share the models of phones with the same IPA label
    # a phone said in fewer distinct words than this is trained and aligned as the phones that spell it
    # ("əl" as ə + l, "ɔːɹ" as ɔː + ɹ; its own label is kept), where they are better taught (0: never)
    min_phone_words: int = option(3, low=0)
    max_train_hours: float = option(10.0, above=0.0)  # speech used for training at most (utterances spread over the corpus)
    # a Gaussian's variance is pulled toward the global one as if by this many frames (0: no pull; a
    # phone seen a few times then gets needle-thin Gaussians that outscore silence)
    variance_prior_frames: float = option(30.0, low=0.0)
    # A Whisper word stays near its ASR times: its phones pay a penalty before (start - early_slack_s)
    # or after (end + late_slack_s). Whisper's word times run early, seldom late, so the early
    # slack is the tighter one. Words below window_min_probability (likely misheard) and words a
    # user's transcript adds have no such limit.
    early_slack_s: float = option(0.3, low=0.0)
    late_slack_s: float = option(0.8, low=0.0)
    window_min_probability: float = option(0.5, low=0.0, high=1.0)
    retrain: bool = False  # train the model again now, on corrected words where corrections/ has them (--retrain)


@dataclass(frozen=True)
class FeatureConfig(_Checked):
    pitch_floor_hz: float = option(60.0, above=0.0)  # first pitch pass; then each speaker gets 0.75 x Q1 .. 1.5 x Q3 of it
    pitch_ceiling_hz: float = option(700.0, above=0.0)
    adapt_pitch: bool = True  # False: one pass with the floor and ceiling above
    pitch_step_s: float = option(0.01, above=0.0, high=0.1)  # pitch frame step
    formant_ceiling_low_hz: float = option(4500.0, above=0.0)  # the multiple-ceiling search tries formant_ceilings
    formant_ceiling_high_hz: float = option(7000.0, above=0.0)  # ceilings evenly spaced in this range
    formant_ceilings: int = option(12, low=1)
    max_formants: int = option(5, low=1, high=8)  # LPC order = 2 x this (Praat's "number of formants")
    formant_window_s: float = option(0.025, above=0.0, high=0.2)  # Praat's "window length" (the Gaussian window spans twice this)
    intensity_floor_hz: float = option(100.0, above=0.0)  # Praat's "minimum pitch" for intensity: window 6.4 / this s
    min_pause_s: float = option(0.2, above=0.0)  # a silent gap between words at least this long is a pause
    token_margin_s: float = option(0.04, low=0.0)  # audio on each side of a vowel for its formant frames' windows
    pad_s: float = option(0.1, low=0.0)  # audio read around each utterance's words
    pitch_tiers: bool = True  # write Praat PitchTier files (features' pitchtiers/)
    formant_tier: bool = True  # write TextGrids with a formant point tier per speaker (features' textgrids/)

    def relations(self) -> list[str]:
        problems = []
        if self.pitch_floor_hz >= self.pitch_ceiling_hz:
            problems.append(f"pitch_floor_hz = {self.pitch_floor_hz} is not below pitch_ceiling_hz = "
                            f"{self.pitch_ceiling_hz}; the defaults are 60 and 700 Hz")
        if self.formant_ceiling_low_hz > self.formant_ceiling_high_hz:
            problems.append(f"formant_ceiling_low_hz = {self.formant_ceiling_low_hz} is above formant_ceiling_high_hz = "
                            f"{self.formant_ceiling_high_hz}; the defaults are 4500 and 7000 Hz (equal: one ceiling)")
        return problems


@dataclass(frozen=True)
class ProfileConfig(_Checked):
    roles: tuple[str, ...] = ("interviewee",)  # whose speech the statistics describe
    min_word_probability: float = option(0.5, low=0.0, high=1.0)  # vowel tokens in words Whisper was less sure of are left out (0: keep all)
    min_speaker_confidence: float = option(0.8, low=0.0, high=1.0)  # ... and in words whose speaker is less sure than this (0: keep all)
    keep_overlap: bool = False  # keep vowel tokens of words said over another voice (their formants are mixed)
    max_abs_duration_z: float = option(3.0, above=0.0)  # ... and those whose aligned duration is implausible for the phone
    min_vowel_s: float = option(0.03, low=0.0)  # ... and vowels shorter than this (formants of 1-2 frames)
    pillai_pairs: tuple[str, ...] = ()  # extra vowel pairs for Pillai scores, "language:a-b" (e.g. "fr:e-ɛ")
    clusters: int = option(0, low=0, high=20)  # Ward clusters of the speakers; 0 = chosen by the silhouette (2-6)
    permutations: int = option(200, low=0)  # permutations behind each prediction p-value (and the PCA's component test)
    # -- models (voli.profile.models) --
    controls: tuple[str, ...] = ()  # attributes adjusted for in the model of every other attribute, e.g. [gender, age]
    interactions: tuple[str, ...] = ()  # "attribute:control" pairs fitted with their product, e.g. "education:gender"
    language: str = option("term", choices=("term", "separate"))  # several languages: "term" (a language term in every model) or "separate" (models per language)
    engine: str = option("auto", choices=("auto", "lme4", "statsmodels"))  # mixed models: "lme4" (R's lme4 + lmerTest), "statsmodels", or "auto" (lme4 when R has it)
    word_effect: bool = True  # token models: (1 | word) beside (1 | speaker) (lme4 only: statsmodels cannot cross them)
    per_vowel: bool = True  # formant models per vowel and language (the most numerous: vowels x formants x attributes)
    context: bool = False  # per-vowel models: the previous and next phone's class and the stress as controls
    attributes: tuple[str, ...] = ()  # attributes to test (beside those survey.yaml declares, controls, interactions)
    explore: bool = False  # also test the undeclared speakers.csv columns, each family apart ("explore: ...")
    vowel_scale: str = option("normalised", choices=("normalised", "hz"))  # per-vowel models: the primary test's scale ("normalised": Lobanov 2.0, or "hz");
    # the other scale is fitted as a sensitivity check, its own family, outside the report-wide FDR
    ddf: str = option("auto", choices=("auto", "kenward-roger", "satterthwaite"))  # lme4 df: "kenward-roger", "satterthwaite", or "auto" (Kenward-Roger up to kr_max_rows rows)
    kr_max_rows: int = option(400, low=0)  # auto: Kenward-Roger up to this many rows, Satterthwaite above (pbkrtest at 800 rows of
    # a 12-speaker corpus: 42 s against 6.8 s; its cost grows with the rows cubed)
    word_slopes: bool = False  # per-vowel lme4 models: (1 + attribute | word); simplified to (1 | word) if it fails
    min_vowel_tokens: int = option(5, low=1)  # per-vowel models: tokens a speaker needs of a vowel to enter its model
    min_pillai_tokens: int = option(20, low=2)  # Pillai scores need this many tokens of each vowel (fewer: NaN; counts written beside)
    stressed_only: bool = False  # vowel tokens: keep only those with lexical stress (where the lexicon marks it)
    max_vowel_s: float = option(0.5, low=0.0)  # ... and leave out vowels longer than this (s; lengthened hesitations, misalignments)
    # vowel dynamics (voli.profile.dynamics): GAMMs of F1/F2 trajectories against each attribute, for the
    # language files' gliding vowels (diphthongs), every vowel (all: slow on a big corpus), or none (off)
    dynamics: str = option("diphthongs", choices=("off", "diphthongs", "all"))
    dynamics_keep_hiatus: bool = False  # ... keep vowel tokens next to another vowel (no consonant or pause between:
    # their shared boundary is the aligner's guess, so their trajectories run into the other vowel)
    dynamics_context: bool = True  # ... each token's trajectory first freed of its preceding and following segment's class
    # (their effects estimated within speakers): speakers whose tokens mix contexts differently then do not differ in shape
    checked_only: bool = False  # only recordings a linguist corrected (WORKDIR/corrections/): their tokens and utterances

    def relations(self) -> list[str]:
        problems = []
        if not self.roles:
            problems.append("roles = []: name at least one role whose speech the statistics describe "
                            "(the default is [interviewee])")
        if self.max_vowel_s and self.max_vowel_s <= self.min_vowel_s:
            problems.append(f"max_vowel_s = {self.max_vowel_s} s leaves no vowel above min_vowel_s = {self.min_vowel_s} s; "
                            "set max_vowel_s above min_vowel_s (or 0 for no upper limit)")
        for entry in self.pillai_pairs:
            if not re.fullmatch(r"[^:\s]+:[^-\s]+-[^-\s]+", entry.strip()):
                problems.append(f"pillai_pairs: {entry!r} should read 'language:vowel-vowel', e.g. 'fr:e-ɛ'")
        for entry in self.interactions:
            if entry.count(":") != 1 or not all(entry.split(":")):
                problems.append(f"interactions: {entry!r} should read 'attribute:control', e.g. 'education:gender'")
        return problems[:1]


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


def _build(cls, data: dict, path: str, section: str = ""):
    """``cls`` from a mapping read from ``path``; errors read ``path: section.key ...``."""
    where = f"{path}: {section[:-1]}" if section else str(path)
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
            kwargs[key] = _build(hints[key], value or {}, path, f"{section}{key}.")
        else:
            kwargs[key] = _coerce(value, hints[key], f"{path}: {section}{key}")
    try:
        return cls(**kwargs)
    except ConfigError as err:  # validate's "key = value: ..." with the file and the section before it
        raise ConfigError(f"{path}: {section}{err}") from None


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
