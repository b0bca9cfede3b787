"""Two-person conversations built from real single-speaker recordings, with their true turns.

Development data for telling speakers apart (``bench/speakers.py``): the voices are real people
recorded alone, as registry packages ship them, and the conversation is made by placing their
utterances one after the other as people take turns: short turns, gaps of a few hundred
milliseconds, some turns starting before the last one ends (overlap), back-channels ("yes",
"okay", a number) said over the other's speech, one voice quieter than the other, and the
telephone band (8 kHz) or 16 kHz.

Voices (no French or Spanish voice: those prompt sets are held out for evaluation):

- Debian's Asterisk prompts: ``allison`` (en, woman, ``asterisk-core-sounds-en-wav``), ``carlo``
  (it, man, ``asterisk-core-sounds-it-wav``), ``menardi`` (it, woman, Paola Dal Zot,
  ``asterisk-prompt-it-menardi-wav``), 8 kHz studio recordings;
- ``librivox``: the LibriVox reading of Shakespeare's Sonnet 1 (tests/data, from the ``aeneas-ng``
  sdist), one line per utterance.

The truth is a list of :class:`Turn` (one per utterance placed, leading and trailing silence
trimmed) and is written as RTTM, the format diarization scorers read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SOUNDS = Path("/usr/share/asterisk/sounds")
SONNET = ROOT / "tests" / "data" / "librivox_sonnet1"
SR = 16000  # Hz, the rate conversations are built at


@dataclass(frozen=True)
class Voice:
    name: str
    language: str
    directory: str  # under /usr/share/asterisk/sounds
    package: str  # Debian package with the audio
    listing: str | None  # Debian package with the texts (core-sounds-<lang>.txt.gz), if any


ASTERISK_VOICES = {
    "allison": Voice("allison", "en", "en_US_f_Allison", "asterisk-core-sounds-en-wav", "asterisk-core-sounds-en"),
    "carlo": Voice("carlo", "it", "it_IT_m_Carlo", "asterisk-core-sounds-it-wav", "asterisk-core-sounds-it"),
    "menardi": Voice("menardi", "it", "it_IT_f_Menardi", "asterisk-prompt-it-menardi-wav", None),
}


@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray  # float32 at SR, silence trimmed
    text: str | None


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float  # s
    end: float  # s
    text: str | None
    backchannel: bool = False


def trimmed(x: np.ndarray, sr: int, floor_db: float = -40.0) -> np.ndarray:
    """``x`` without its leading and trailing silence (20 ms frames under ``floor_db`` re its loudest)."""
    frame = sr // 50
    n = len(x) // frame
    if n < 2:
        return x
    db = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(db > db.max() + floor_db)
    return x[loud[0] * frame: (loud[-1] + 1) * frame]


def asterisk_prompts(voice: Voice, *, running_speech: bool = True) -> list[tuple[Path, str | None]]:
    """(audio, text) of a voice's prompts in name order; text is None where the package has no listing.

    ``running_speech``: leave out tones, silences, single digits and letters (their texts are in
    brackets or their names in ``silence/``, ``digits/``, ``letters/``)."""
    folder = SOUNDS / voice.directory
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: the {voice.name} voice needs Debian's {voice.package}: "
                                f"sudo apt-get install {voice.package}" + (f" {voice.listing}" if voice.listing else ""))
    texts = listing(voice.listing, voice.language) if voice.listing else {}
    # a voice without its own texts: the language's core listing says which names are tones
    kinds = texts or listing(f"asterisk-core-sounds-{voice.language}", voice.language, required=False)
    out = []
    for path in sorted(folder.glob("*.wav")):
        text = texts.get(path.stem)
        if voice.listing and not text:
            continue
        kind = kinds.get(path.stem, "")
        if running_speech and ("[" in kind or "(" in kind or "tone" in path.stem or "beep" in path.stem):
            continue  # tones and silences
        out.append((path, text))
    if running_speech:
        digits = [(p, texts.get(f"digits/{p.stem}")) for p in sorted((folder / "digits").glob("*.wav"))]
        out += [(p, t) for p, t in digits if voice.listing is None or t]  # numbers: short turns and back-channels
    return out


def listing(package: str, language: str, required: bool = True) -> dict[str, str]:
    """name -> text of a Debian Asterisk listing (``core-sounds-<lang>.txt.gz``: ``name: text`` lines)."""
    path = Path(f"/usr/share/doc/{package}/core-sounds-{language}.txt.gz")
    if not path.is_file():
        if required:
            raise FileNotFoundError(f"{path}: the prompts' texts need sudo apt-get install {package}")
        return {}
    texts = {}
    with gzip.open(path, "rt", encoding="utf-8-sig") as fh:
        for line in fh:
            name, sep, text = line.partition(":")
            if sep and not line.startswith(";") and text.strip():
                texts[name.strip()] = text.strip()
    return texts


def voice_utterances(name: str) -> list[Utterance]:
    """A voice's utterances at 16 kHz, silence trimmed, in a fixed order."""
    from voli.io.audio import load

    if name == "librivox":
        import pandas as pd

        x = load(SONNET / "sonnet1.mp3", sample_rate=SR)
        lines = pd.read_csv(SONNET / "sonnet1_lines.csv", header=None)
        return [Utterance(trimmed(x[int(s * SR): int(e * SR)], SR), str(t)) for _, s, e, t in lines.itertuples(index=False)]
    return [Utterance(trimmed(load(path, sample_rate=SR), SR), text) for path, text in asterisk_prompts(ASTERISK_VOICES[name])]


def build_conversation(a: list[Utterance], b: list[Utterance], names: tuple[str, str], rng: np.random.Generator, *,
                       seconds: float = 120.0, overlap_share: float = 0.15, backchannel_share: float = 0.2,
                       level_b_db: float = 0.0, max_turn_utterances: int = 2) -> tuple[np.ndarray, list[Turn]]:
    """A conversation of about ``seconds`` between two voices, and its turns.

    Speakers alternate; a turn is 1 to ``max_turn_utterances`` utterances (0.15-0.5 s apart). The
    gap before the next turn is 0.1-0.7 s, except that ``overlap_share`` of turns start 0.2-0.8 s
    before the last one ends. While one speaks, the other says a back-channel (an utterance under
    0.9 s) over them in ``backchannel_share`` of turns. Voice b is ``level_b_db`` louder (negative:
    quieter). Audio at 16 kHz, peak 0.9."""
    voices = {names[0]: list(a), names[1]: list(b)}
    short = {n: [u for u in us if len(u.audio) < 0.9 * SR] for n, us in voices.items()}
    long_ = {n: [u for u in us if len(u.audio) >= 0.9 * SR] or us for n, us in voices.items()}
    order = {n: list(rng.permutation(len(long_[n]))) for n in names}
    gain = {names[0]: 1.0, names[1]: 10 ** (level_b_db / 20)}
    placed: list[tuple[int, np.ndarray, Turn]] = []
    t, who = 0.5, 0
    while t < seconds:
        name, other = names[who], names[1 - who]
        start = t
        for k in range(int(rng.integers(1, max_turn_utterances + 1))):
            if not order[name]:
                order[name] = list(rng.permutation(len(long_[name])))
            u = long_[name][order[name].pop()]
            placed.append((int(t * SR), u.audio * gain[name], Turn(name, t, t + len(u.audio) / SR, u.text)))
            t += len(u.audio) / SR + (rng.uniform(0.15, 0.5) if k + 1 < max_turn_utterances else 0.0)
        end = placed[-1][2].end
        if short[other] and rng.random() < backchannel_share and end - start > 2.0:
            u = short[other][int(rng.integers(len(short[other])))]
            at = rng.uniform(start + 0.5, end - 0.5 - len(u.audio) / SR)
            if at > start:
                placed.append((int(at * SR), u.audio * gain[other], Turn(other, at, at + len(u.audio) / SR, u.text, True)))
        t = end + (-rng.uniform(0.2, 0.8) if rng.random() < overlap_share else rng.uniform(0.1, 0.7))
        who = 1 - who
    n = max(s + len(x) for s, x, _ in placed) + SR // 2
    mix = np.zeros(n, np.float32)
    for s, x, _ in placed:
        mix[s: s + len(x)] += x
    mix *= 0.9 / max(np.abs(mix).max(), 1e-9)
    return mix, sorted((turn for _, _, turn in placed), key=lambda r: r.start)


def telephone(x: np.ndarray) -> tuple[np.ndarray, int]:
    """16 kHz audio as a telephone carries it: 300-3400 Hz, 8 kHz."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    band = sosfiltfilt(butter(6, [300, 3400], btype="bandpass", fs=SR, output="sos"), x)
    return resample_poly(band, 1, 2).astype(np.float32), 8000


def write_rttm(path: Path, recording_id: str, turns: list[Turn]) -> None:
    """The turns as RTTM (``SPEAKER <file> 1 <start> <duration> <NA> <NA> <speaker> <NA> <NA>``)."""
    lines = [f"SPEAKER {recording_id} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n"
             for t in turns]
    Path(path).write_text("".join(lines), encoding="utf-8")


def read_rttm(path: Path) -> "pd.DataFrame":
    """An RTTM file as a table of (recording_id, speaker_id, start, end)."""
    import pandas as pd

    rows = []
    for k, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        f = line.split()
        if not f or f[0] != "SPEAKER":
            continue
        if len(f) < 8:
            raise ValueError(f"{path}, line {k}: an RTTM SPEAKER line has 10 fields; this one has {len(f)}")
        rows.append({"recording_id": f[1], "speaker_id": f[7], "start": float(f[3]), "end": float(f[3]) + float(f[4])})
    return pd.DataFrame(rows, columns=["recording_id", "speaker_id", "start", "end"])
