"""Whisper decoding of speech windows: one window at a time (faster-whisper on the CPU, openai-whisper
with its fallbacks) or a batch of windows at once (openai-whisper, the GPU path), with word times
and probabilities; and language detection restricted to voli's languages.

Light on imports (numpy; torch, whisper and faster-whisper inside the functions), so that it runs
wherever Whisper does, the GPU check machine included.
"""

from __future__ import annotations

import numpy as np

from voli import languages
from voli.asr.vad import SAMPLE_RATE as SR  # Whisper's 16 kHz
from voli.config import AsrConfig


def _prompt(language: str, config: AsrConfig) -> str | None:
    """A prompt written with filled pauses makes Whisper keep them (OpenAI's prompting guide)."""
    return languages.get(language).filler_prompt or None if config.keep_fillers else None

RANDOM_SEED = 0  # for the sampling of Whisper's temperature fallback
# whisper.transcribe's own thresholds: a result whose text compresses more than this is a loop, one
# whose mean token log-probability is lower is a guess (unless Whisper thinks there is no speech)
COMPRESSION_RATIO_MAX = 2.4
LOGPROB_MIN = -1.0
NO_SPEECH_MIN = 0.6
REST_S = 2.0  # a decoding whose last word ends this long before the audio's end stopped early
# its temperature schedule: a window whose greedy result looks like a loop or a guess is decoded
# again at each of these
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def _ct2_pass(model, audio: np.ndarray, language: str, config: AsrConfig, prompt: str | None,
              temperatures) -> tuple[list[dict], bool]:
    """One faster-whisper decoding of ``audio``: its words, and whether a segment looks like a
    repetition loop or a guess by whisper.transcribe's own thresholds."""
    import ctranslate2

    # a window that falls back to temperature > 0 is sampled: a fixed seed per window makes the
    # transcript the same in every process, whatever was decoded before (resume, Ray workers)
    ctranslate2.set_random_seed(RANDOM_SEED)
    segments, _ = model.transcribe(
        audio, language=languages.get(language).whisper, task="transcribe", beam_size=config.beam_size or 1,
        temperature=temperatures, condition_on_previous_text=False, word_timestamps=True, vad_filter=False,
        initial_prompt=prompt)
    segments = list(segments)
    suspect = any(seg.compression_ratio > COMPRESSION_RATIO_MAX
                  or seg.avg_logprob < LOGPROB_MIN and seg.no_speech_prob < NO_SPEECH_MIN for seg in segments)
    words = [{"word": w.word, "start": float(w.start), "end": float(w.end), "probability": float(w.probability)}
             for seg in segments for w in (seg.words or [])]
    return words, suspect


def _ct2_decode(model, audio: np.ndarray, language: str, config: AsrConfig, context: str = "") -> list[dict]:
    """Words of one stretch: greedy, prompted with the filler prompt and ``context`` (the words
    before it); where that loops, guesses or stops early, decoded again without any prompt and with
    Whisper's temperature fallback.

    The prompt makes Whisper write filled pauses and keeps names and style from one window to the
    next (as whisper.transcribe's condition_on_previous_text does), but on some windows it makes
    Whisper repeat itself or stop: sampling at higher temperatures (whisper.transcribe's remedy)
    then costs five decodings per temperature and keeps the prompt that caused it; decoding
    without the prompt costs one and loses only that window's fillers.
    """
    prompt = " ".join(p for p in (_prompt(language, config), context.strip()) if p) or None
    if prompt is None:
        return _ct2_pass(model, audio, language, config, None, TEMPERATURES)[0]
    words, suspect = _ct2_pass(model, audio, language, config, prompt, (0.0,))
    seconds = len(audio) / SR
    if suspect or not words or seconds - words[-1]["end"] > REST_S:
        plain, _ = _ct2_pass(model, audio, language, config, None, TEMPERATURES)
        if plain and (not words or suspect or plain[-1]["end"] > words[-1]["end"] + REST_S / 2):
            return plain
    return words


def decode_window_ct2(model, audio: np.ndarray, language: str, config: AsrConfig, *, context: str = "",
                      tries: int = 3) -> list[dict]:
    """faster-whisper on one window (no VAD of its own): [{word, start, end, probability}] with
    times in the window. ``context``: the words said before the window (``previous_words``).

    Whisper sometimes stops before the end of a window; when the last word ends more than
    ``REST_S`` before it, the rest of the window is decoded again (at most ``tries`` times).
    """
    words: list[dict] = []
    offset = 0.0
    for _ in range(tries):
        before = previous_words(context, words)
        new = [{**w, "start": offset + w["start"], "end": offset + w["end"]}
               for w in _ct2_decode(model, audio[int(offset * SR):], language, config, before)]
        words.extend(new)
        if not new or len(audio) / SR - words[-1]["end"] <= REST_S:
            break
        offset = words[-1]["end"]
    return words


CONTEXT_WORDS = 50  # words before a window given to Whisper as its context


def previous_words(context: str, words: list[dict]) -> str:
    """The last ``CONTEXT_WORDS`` words of ``context`` followed by ``words``' (decoded words)."""
    said = context.split() + "".join(w["word"] for w in words).split()
    return " ".join(said[-CONTEXT_WORDS:])


def _most_probable(probs: dict[str, float]) -> str:
    """The voli language whose Whisper code is most probable (Whisper knows ~100 languages)."""
    return max(languages.all_languages(), key=lambda lang: probs.get(lang.whisper, 0.0)).code


def detect_language(model, audio: np.ndarray) -> str:
    """The most probable of voli's languages for a stretch of speech."""
    import whisper

    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), model.dims.n_mels).to(model.device)
    _, probs = model.detect_language(mel)
    return _most_probable(probs)


def detect_language_ct2(model, audio: np.ndarray) -> str:
    """The most probable of voli's languages (faster-whisper): Whisper's own first choice may be
    a language voli cannot align (Galician for Portuguese, Catalan for Spanish)."""
    _, _, probs = model.detect_language(audio)
    return _most_probable(dict(probs))


def decode_window(model, audio: np.ndarray, language: str, config: AsrConfig, fp16: bool) -> list[dict]:
    """Whisper on one window, with its temperature fallback: [{word, start, end, probability}] with
    times in the window."""
    options = dict(language=languages.get(language).whisper, task="transcribe", temperature=TEMPERATURES,
                   condition_on_previous_text=False, word_timestamps=True, fp16=fp16, verbose=None)
    if config.keep_fillers:
        options["initial_prompt"] = _prompt(language, config)
    if config.beam_size:
        options["beam_size"] = config.beam_size
    import torch

    # a window that falls back to a temperature above 0 is sampled: the same seed for every window
    # gives the same words in every process and order (resume, Ray), without touching the caller's RNG
    with torch.random.fork_rng(devices=[model.device] if model.device.type == "cuda" else []):
        torch.manual_seed(RANDOM_SEED)
        result = model.transcribe(audio, **options)
    return [w for seg in result["segments"] for w in seg.get("words", [])]


# a batched result is decoded again, one window at a time with fallbacks, when it looks like a
# repetition loop (whisper.transcribe's thresholds), a low-confidence guess, or a truncation
MIN_WORDS_PER_S = 1.0  # speech windows hold 2-4 words a second
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"


def decode_windows(model, audios: list[np.ndarray], language: str, config: AsrConfig, fp16: bool) -> list[list[dict]]:
    """Whisper on a batch of windows at once (greedy), then word times per window from the
    cross-attention alignment: [[{word, start, end, probability}] per window].

    The batch goes through the encoder and the decoder together, which is
    what makes a GPU (and, less so, a CPU) worth it; the word timings use
    the same alignment heads and DTW as ``whisper.transcribe``.
    """
    import torch
    import whisper
    from whisper.audio import HOP_LENGTH, N_SAMPLES
    from whisper.timing import find_alignment, merge_punctuations
    from whisper.tokenizer import get_tokenizer

    code = languages.get(language).whisper
    tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages, language=code, task="transcribe")
    mels = torch.stack([whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(a), N_SAMPLES), model.dims.n_mels)
                        for a in audios]).to(model.device)
    options = whisper.DecodingOptions(language=code, task="transcribe", temperature=0.0, without_timestamps=True,
                                      fp16=fp16, prompt=_prompt(language, config))
    results = whisper.decode(model, mels, options)
    out = []
    for audio, mel, result in zip(audios, mels, results):
        tokens = [t for t in result.tokens if t < tokenizer.eot]
        if not tokens or result.no_speech_prob > NO_SPEECH_MIN and result.avg_logprob < LOGPROB_MIN:
            out.append([])
            continue
        seconds = len(audio) / SR
        if (result.compression_ratio > COMPRESSION_RATIO_MAX or result.avg_logprob < LOGPROB_MIN
                or len(result.text.split()) < MIN_WORDS_PER_S * seconds):
            # a loop, a low-confidence guess or a truncated window: decode it again with
            # Whisper's own temperature fallback, as whisper.transcribe would
            out.append(decode_window(model, audio, language, config, fp16))
            continue
        timings = find_alignment(model, tokenizer, tokens, mel, len(audio) // HOP_LENGTH)
        merge_punctuations(timings, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
        out.append([{"word": t.word, "start": float(t.start), "end": float(t.end), "probability": float(t.probability)}
                    for t in timings if t.word.strip()])
    return out
