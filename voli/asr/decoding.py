"""Whisper decoding of speech windows: a batch of windows encoded once, decoded by one rule.

The rule (``needs_fallback``, with its thresholds in ``AsrConfig``) is whisper.transcribe's: a
window whose decoding compresses more than ``compression_ratio_max`` (a repetition loop) or whose
mean token log-probability is under ``logprob_min`` (a guess), or that writes fewer than
``min_words_per_s`` words a second of speech, is decoded again at the next step
of ``schedule``, unless Whisper thinks it holds no speech (``no_speech_min``), which is accepted
as silence. The steps: beam search (``beam_size``) with the filler prompt (when ``keep_fillers``),
the same without it (the prompt sometimes makes Whisper loop), then ``best_of`` samples at each
higher temperature of ``AsrConfig.temperatures``; when every step fails, the most probable attempt
that is not a loop is kept (``choose``). A decoding whose last timestamp is more than ``rest_s``
before the end of the window's speech stopped early (most often after the filler prompt): it goes
on from that timestamp, as whisper.transcribe seeks there, but over the same encoder output.

Each batch of windows goes through the encoder **once**; every step, the language detection and
the word timings (cross-attention DTW) read that encoder output. Windows are decoded together,
which is what makes a GPU, and on a CPU the decoder's matrix products, worth it.

Two engines run the same rule: CTranslate2 through faster-whisper's model (int8 on the CPU) and
openai-whisper (torch, the GPU path). Light on imports (numpy; torch, whisper and faster-whisper
inside the functions), so that it runs wherever Whisper does, the GPU check machine included.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from voli import languages
from voli.asr.vad import SAMPLE_RATE as SR  # Whisper's 16 kHz
from voli.config import AsrConfig

RANDOM_SEED = 0  # for the sampling of the fallback temperatures: the same words in every process
PREPEND_PUNCTUATION = "\"'“¿([{-"  # punctuation that joins the word after it (whisper.transcribe's)
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"  # ... and the word before it
MAX_INITIAL_TIMESTAMP_S = 1.0  # the first segment starts within this (whisper.transcribe's default)
TIME_STEP_S = 0.02  # Whisper's timestamp tokens are this far apart
CONTINUATIONS = 3  # a window's decoding goes on from where it stopped at most this many times


@dataclass
class Attempt:
    """One decoding of one window."""

    tokens: list[int]  # text tokens (no timestamps, no end of text)
    text: str
    avg_logprob: float  # mean log-probability per token, end of text included
    no_speech_prob: float
    temperature: float
    end_s: float = 0.0  # the last timestamp Whisper wrote (s in the window; inf: its text runs on to the end)

    @property
    def compression_ratio(self) -> float:
        """Characters of the text over bytes of its zlib compression, one byte a character: high
        for a repetition loop. (whisper.transcribe compresses the UTF-8 bytes, where a Cyrillic,
        Greek or Arabic letter takes two bytes that share their first: normal Russian then looks
        like a loop to the 2.4 threshold set on English.)"""
        raw = bytes(ord(c) % 256 for c in self.text.strip())
        return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def is_silence(attempt: Attempt, config: AsrConfig) -> bool:
    """Whisper thinks the window holds no speech and what it wrote is a guess."""
    return attempt.no_speech_prob > config.no_speech_min and attempt.avg_logprob < config.logprob_min


def needs_fallback(attempt: Attempt, config: AsrConfig, speech_s: float = 0.0) -> str | None:
    """Why ``attempt`` must be decoded again at the next step, or None if it stands.

    The one decoding rule: a repetition loop (compression ratio above ``compression_ratio_max``),
    a guess (mean log-probability under ``logprob_min``) or too few words for the window's
    ``speech_s`` seconds of speech (under ``min_words_per_s``: a stray word where sentences were
    said) is tried again, unless the window is silence (``is_silence``), whose attempt stands and
    gives no words."""
    if is_silence(attempt, config):
        return None
    if attempt.compression_ratio > config.compression_ratio_max:
        return "loop"
    if attempt.avg_logprob < config.logprob_min:
        return "guess"
    if len(attempt.text.split()) < config.min_words_per_s * speech_s:
        return "too few words"
    return None


def stopped_early(attempt: Attempt, config: AsrConfig, speech_end_s: float) -> bool:
    """Whisper's last timestamp is more than ``rest_s`` before the end of the window's speech."""
    return bool(attempt.tokens) and not is_silence(attempt, config) and speech_end_s - attempt.end_s > config.rest_s


def schedule(config: AsrConfig) -> list[tuple[float, bool]]:
    """The steps tried in turn while a window needs fallback: (temperature, with the filler prompt)."""
    return ([(0.0, True)] if config.keep_fillers else []) + [(t, False) for t in config.temperatures]


def choose(attempts: list[Attempt], config: AsrConfig, speech_s: float = 0.0) -> Attempt:
    """The attempt kept for a window: the last one if it stands, else (every step failed) the most
    probable of those that are not loops (whisper.transcribe's choice)."""
    if needs_fallback(attempts[-1], config, speech_s) is None:
        return attempts[-1]
    pool = [a for a in attempts if a.compression_ratio <= config.compression_ratio_max] or attempts
    return max(pool, key=lambda a: a.avg_logprob)


def prompt_text(language: str, fillers: bool, context: str = "") -> str | None:
    """The text before a window: the language's filler prompt (a prompt written with filled pauses
    makes Whisper keep them, OpenAI's prompting guide) and, when conditioning on previous text,
    the words said before the window."""
    filler = languages.get(language).filler_prompt if fillers else ""
    return " ".join(p for p in (filler, context.strip()) if p) or None


CONTEXT_WORDS = 50  # words before a window given to Whisper as its context (condition_on_previous_text)


def previous_words(context: str, words: list[dict]) -> str:
    """The last ``CONTEXT_WORDS`` words of ``context`` followed by ``words``' (decoded words)."""
    said = context.split() + "".join(w["word"] for w in words).split()
    return " ".join(said[-CONTEXT_WORDS:])


def _most_probable(probs: dict[str, float]) -> str:
    """The voli language whose Whisper code is most probable (Whisper knows ~100 languages, and
    its first choice may be one voli cannot align: Galician for Portuguese, Catalan for Spanish)."""
    return max(languages.all_languages(), key=lambda lang: probs.get(lang.whisper, 0.0)).code


def decode_windows(model, audios: list[np.ndarray], language: str | None, config: AsrConfig, *,
                   fp16: bool = False, context: str = "", speech: list[list[tuple[float, float]]] | None = None
                   ) -> tuple[list[list[dict]], str]:
    """Whisper on a batch of windows (16 kHz, at most 30 s each): the words of each window
    ([{word, start, end, probability}], times in the window) and the language decoded.

    ``model``: a faster-whisper ``WhisperModel`` or an openai-whisper model. ``language`` None:
    the most probable of voli's languages in the first window. ``context``: the words said before
    the batch (given to Whisper after the filler prompt). ``speech``: each window's speech regions
    ((start, end), s in the window; default: the whole window)."""
    engine = _Ct2(model, fp16) if hasattr(model, "feature_extractor") else _Torch(model, fp16)
    speech = speech or [[(0.0, len(a) / SR)] for a in audios]
    ends = [max(e for _, e in regions) for regions in speech]
    seconds = [sum(e - s for s, e in regions) for regions in speech]
    encoded = engine.encode(audios)  # the only encoder call for these windows
    if language is None:
        language = _most_probable(engine.language_probabilities(encoded, 0))
    engine.start(language)
    attempts: list[list[Attempt]] = [[] for _ in audios]
    todo = list(range(len(audios)))
    for temperature, fillers in schedule(config):
        prompt = prompt_text(language, fillers, context)
        for i, attempt in zip(todo, engine.generate(encoded, todo, temperature, config, prompt)):
            attempts[i].append(attempt)
        todo = [i for i in todo if needs_fallback(attempts[i][-1], config, seconds[i])]
        if not todo:
            break
    chosen = [choose(a, config, s) for a, s in zip(attempts, seconds)]
    for _ in range(CONTINUATIONS):
        stopped = [i for i, a in enumerate(chosen) if stopped_early(a, config, ends[i])]
        if not stopped:
            break
        for i in stopped:
            more = engine.go_on(encoded, i, chosen[i], config, prompt_text(language, False, context))
            joined = _joined(chosen[i], more, engine.tokenizer)
            if (more.tokens and more.end_s > chosen[i].end_s and needs_fallback(joined, config) is None
                    and not _starts_over(chosen[i].tokens, joined.tokens[len(chosen[i].tokens):])):
                chosen[i] = joined
            else:  # nothing more there, or a continuation that says again what was said
                chosen[i].end_s = np.inf
    heard = [i for i, a in enumerate(chosen) if a.tokens and not is_silence(a, config)]
    words: list[list[dict]] = [[] for _ in audios]
    for i, ws in zip(heard, engine.word_times(encoded, heard, [chosen[i] for i in heard],
                                              [len(audios[i]) for i in heard])):
        words[i] = ws
    return words, language


def _joined(first: Attempt, more: Attempt, tokenizer) -> Attempt:
    """``first`` followed by its continuation, the words they both wrote at the join ("die, but" +
    "But as the riper") written once."""
    def plain(word: str) -> str:
        return word.strip(" ,.;:!?¿¡…\"'«»").lower()

    said, _ = tokenizer.split_to_word_tokens(first.tokens)
    again, pieces = tokenizer.split_to_word_tokens(more.tokens)
    overlap = max((k for k in range(1, min(4, len(said), len(again)) + 1)
                   if [plain(w) for w in said[-k:]] == [plain(w) for w in again[:k]]), default=0)
    tokens = first.tokens + [t for piece in pieces[overlap:] for t in piece]
    return Attempt(tokens, tokenizer.decode(tokens), min(first.avg_logprob, more.avg_logprob),
                   first.no_speech_prob, first.temperature, more.end_s)


def _starts_over(before: list[int], after: list[int], n: int = 8) -> bool:
    """Does a continuation start over (its first ``n`` tokens are the window's first)? (Prompts and
    interviews repeat phrases, so a phrase said again alone says nothing.)"""
    return len(after) >= n and after[:n] == before[:n]


def _words(timings: list[dict]) -> list[dict]:
    """Word timings (punctuation merged) as voli's word dicts; empty words left out."""
    return [{"word": t["word"], "start": float(t["start"]), "end": float(t["end"]), "probability": float(t["probability"])}
            for t in timings if t["word"].strip()]


def _attempt(tokens: list[int], avg_logprob: float, no_speech_prob: float, temperature: float, tokenizer) -> Attempt:
    """An attempt from a decoded token sequence (text and timestamp tokens)."""
    text = [t for t in tokens if t < tokenizer.eot]
    written = [t for t in tokens if t != tokenizer.eot]
    stamps = [t - tokenizer.timestamp_begin for t in written if t >= tokenizer.timestamp_begin]
    # text after the last timestamp: a segment Whisper did not close, which runs on to the window's end
    end_s = np.inf if written and written[-1] < tokenizer.eot else max(stamps, default=0) * TIME_STEP_S
    return Attempt(text, tokenizer.decode(text), avg_logprob, no_speech_prob, temperature, end_s)


def _ct2_attempt(result, temperature: float, tokenizer) -> Attempt:
    """CTranslate2's best hypothesis: its score is the mean log-probability over the tokens written
    (length penalty 1); whisper's mean counts the end of text too."""
    tokens = result.sequences_ids[0]
    return _attempt(tokens, result.scores[0] * len(tokens) / (len(tokens) + 1), result.no_speech_prob, temperature,
                    tokenizer)


class _Ct2:
    """CTranslate2 (faster-whisper's ``WhisperModel``): encoder output kept as a float32 array."""

    def __init__(self, model, fp16: bool):
        self.model = model

    def encode(self, audios):
        from faster_whisper.audio import pad_or_trim

        extractor = self.model.feature_extractor  # each window's log-mel, padded to 30 s as faster-whisper's batches
        features = np.stack([pad_or_trim(extractor(a)[..., :-1], extractor.nb_max_frames) for a in audios])
        return np.asarray(self.model.encode(features))  # [windows, 1500, width]

    def _view(self, encoded, rows):
        import ctranslate2

        return ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded[rows]))

    def language_probabilities(self, encoded, row: int) -> dict[str, float]:
        pairs = self.model.model.detect_language(self._view(encoded, [row]))[0]
        return {token[2:-2]: p for token, p in pairs}  # "<|fr|>" -> "fr"

    def start(self, language: str):
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                                   language=languages.get(language).whisper)
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])

    def generate(self, encoded, rows, temperature: float, config: AsrConfig, prompt: str | None) -> list[Attempt]:
        """One step for the windows ``rows``, all after the same ``prompt``."""
        import ctranslate2

        if temperature > 0:
            ctranslate2.set_random_seed(RANDOM_SEED)
            search = {"beam_size": 1, "num_hypotheses": config.best_of, "sampling_topk": 0,
                      "sampling_temperature": temperature}
        else:
            search = {"beam_size": config.beam_size}
        previous = self.tokenizer.encode(" " + prompt.strip()) if prompt else []
        tokens = self.model.get_prompt(self.tokenizer, previous, without_timestamps=False)
        results = self.model.model.generate(
            self._view(encoded, rows), [tokens] * len(rows), max_length=self.model.max_length,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True, suppress_tokens=self.suppress,
            max_initial_timestamp_index=int(round(MAX_INITIAL_TIMESTAMP_S / TIME_STEP_S)), **search)
        return [_ct2_attempt(r, temperature, self.tokenizer) for r in results]

    def go_on(self, encoded, row: int, so_far: Attempt, config: AsrConfig, prompt: str | None) -> Attempt:
        """Decode window ``row`` on from ``so_far``'s last timestamp (forced as the first token),
        after the prompt and the words so far."""
        previous = (self.tokenizer.encode(" " + prompt.strip()) if prompt else []) + so_far.tokens
        tokens = self.model.get_prompt(self.tokenizer, previous, without_timestamps=False)
        tokens.append(self.tokenizer.timestamp_begin + int(round(so_far.end_s / TIME_STEP_S)))
        r = self.model.model.generate(self._view(encoded, [row]), [tokens], max_length=self.model.max_length,
                                      return_scores=True, return_no_speech_prob=True, suppress_blank=True,
                                      suppress_tokens=self.suppress, beam_size=config.beam_size)[0]
        return _ct2_attempt(r, 0.0, self.tokenizer)

    def word_times(self, encoded, rows, attempts, samples) -> list[list[dict]]:
        from faster_whisper.transcribe import merge_punctuations

        if not rows:
            return []
        frames = [n // self.model.feature_extractor.hop_length for n in samples]
        out = []
        for timings in self.model.find_alignment(self.tokenizer, [a.tokens for a in attempts],
                                                 self._view(encoded, rows), frames):
            merge_punctuations(timings, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
            out.append(_words(timings))
        return out


class _Torch:
    """openai-whisper (torch; the GPU path): encoder output kept as a tensor on the model's device."""

    def __init__(self, model, fp16: bool):
        self.model, self.fp16 = model, fp16

    def encode(self, audios):
        import torch
        import whisper

        mels = torch.stack([whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(np.asarray(a, np.float32))),
                                                        self.model.dims.n_mels) for a in audios]).to(self.model.device)
        with torch.no_grad():
            return self.model.embed_audio(mels.half() if self.fp16 else mels)

    def language_probabilities(self, encoded, row: int) -> dict[str, float]:
        _, probs = self.model.detect_language(encoded[row: row + 1])  # takes encoder output as it is
        return probs[0]

    def start(self, language: str):
        from whisper.tokenizer import get_tokenizer

        self.code = languages.get(language).whisper
        self.tokenizer = get_tokenizer(self.model.is_multilingual, num_languages=self.model.num_languages,
                                       language=self.code, task="transcribe")

    def generate(self, encoded, rows, temperature: float, config: AsrConfig, prompt: str | None) -> list[Attempt]:
        """One step for the windows ``rows``, all after the same ``prompt``."""
        import torch
        import whisper

        search = {"best_of": config.best_of} if temperature > 0 else {"beam_size": config.beam_size}
        options = whisper.DecodingOptions(language=self.code, task="transcribe", temperature=temperature,
                                          prompt=prompt, fp16=self.fp16, **search)
        device = self.model.device
        # openai-whisper 20250625 cannot search several windows' beams (or samples) at once (its
        # cross-attention does not repeat the encoder output per beam): those go one window at a time
        groups = [rows] if max(options.beam_size or 1, options.best_of or 1) == 1 else [[r] for r in rows]
        results = []
        for group in groups:
            # the same seed for every batch: the same words in every process and order (resume,
            # Ray), without touching the caller's random state
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(RANDOM_SEED)
                results += whisper.decode(self.model, encoded[group], options)  # encoder output: not encoded again
        return [_attempt(r.tokens, r.avg_logprob, r.no_speech_prob, temperature, self.tokenizer) for r in results]

    def go_on(self, encoded, row: int, so_far: Attempt, config: AsrConfig, prompt: str | None) -> Attempt:
        """Decode window ``row`` on from ``so_far``'s last timestamp (see _Ct2.go_on)."""
        import whisper

        previous = (self.tokenizer.encode(" " + prompt.strip()) if prompt else []) + so_far.tokens
        options = whisper.DecodingOptions(
            language=self.code, task="transcribe", temperature=0.0, fp16=self.fp16, beam_size=config.beam_size,
            prompt=previous, prefix=[self.tokenizer.timestamp_begin + int(round(so_far.end_s / TIME_STEP_S))])
        r = whisper.decode(self.model, encoded[[row]], options)[0]
        return _attempt(r.tokens, r.avg_logprob, r.no_speech_prob, 0.0, self.tokenizer)

    def word_times(self, encoded, rows, attempts, samples) -> list[list[dict]]:
        import torch
        from whisper.audio import HOP_LENGTH
        from whisper.timing import find_alignment, merge_punctuations

        out = []
        encoder, self.model.encoder = self.model.encoder, torch.nn.Identity()  # find_alignment runs
        try:  # model(mel, tokens) = decoder(tokens, encoder(mel)): given the encoder output, not the mel
            for row, attempt, n in zip(rows, attempts, samples):
                timings = find_alignment(self.model, self.tokenizer, attempt.tokens, encoded[row], n // HOP_LENGTH)
                merge_punctuations(timings, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
                out.append(_words([{"word": t.word, "start": t.start, "end": t.end, "probability": t.probability}
                                   for t in timings]))
        finally:
            self.model.encoder = encoder
        return out
