"""Who speaks when, inside speech: voice embeddings on short sliding windows, clustered into the
speakers that recordings.csv lists, smoothed over time so that the voice may change inside a
stretch of speech that has no pause.

1. Every speech region is cut into windows of ``WINDOW_S`` every ``HOP_S`` (a region shorter
   than a window is one window); each window gets a unit voice embedding (GE2E).
2. Voice centres: the windows clustered into ``k`` voices (spectral clustering; at most
   ``MAX_CLUSTERED`` windows directly, so memory stays bounded however long the recording; the
   voices are found in the recording itself, enrolment clips only name them, in
   voli.asr.transcribe). In an interview whose transcript has
   questions, the interviewer's centre starts from the windows of questions and the others are
   clustered from the rest; each voice is tried as the interviewer and the likeliest kept.
3. A hidden Markov model over the windows in time order, one state per voice: a window's
   log-likelihood under a voice is a von Mises-Fisher term, ``CONCENTRATION`` times its cosine to
   the voice's centre (scaled by ``HOP_S / WINDOW_S``: overlapping windows share evidence); the
   speaker changes with probability ``P_CHANGE_IN_SPEECH`` between windows of one stretch of
   speech, ``P_CHANGE_AT_PAUSE`` across a pause, ``P_CHANGE_AFTER_QUESTION`` once a question ends;
   a question's windows favour the interviewer by ``QUESTION_LOGP``, and those of the sentence
   right after it (the answer) the other voices by ``ANSWER_LOGP``. Forward-backward gives each
   window the posterior probability of each voice; the centres are re-estimated from those
   posteriors ``EM_ITERATIONS`` times.
4. A word takes the voice with the highest posterior, averaged over the windows that hold its
   middle; that posterior is its ``speaker_confidence``. A word is marked ``overlap`` where most
   of those windows fit their own voice worse than ``OVERLAP_OWN_PERCENTILE`` % of the
   recording's windows do and another voice better than ``OVERLAP_OTHER_PERCENTILE`` %: a mix
   of two voices resembles neither (a weak signal: on bench/speakers.py 27 % of the words said
   in overlap are flagged, and 1.8 % of the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW_S = 1.5  # s, audio per voice embedding
HOP_S = 0.25  # s, between window starts: the time resolution of speaker labels
MAX_CLUSTERED = 2000  # windows clustered directly (the affinity matrix grows with its square)
CONCENTRATION = 120.0  # vMF concentration of a voice's windows around its centre
P_CHANGE_IN_SPEECH = 0.02  # a change of speaker between two windows of one stretch of speech
P_CHANGE_AT_PAUSE = 0.3  # the same across a pause between speech regions
P_CHANGE_AFTER_QUESTION = 0.8  # ... once a question has ended (interviews alternate question and answer)
QUESTION_LOGP = 0.5  # per window of a question: log-odds that the interviewer is the one speaking
ANSWER_LOGP = 0.5  # per window of the sentence after a question: log-odds that someone else is
EM_ITERATIONS = 3  # re-estimations of the voices' centres from the smoothed posteriors
OVERLAP_OWN_PERCENTILE = 15  # overlap: the window fits its own voice worse than this share of windows ...
OVERLAP_OTHER_PERCENTILE = 60  # ... and another voice better than this share


@dataclass(frozen=True)
class Windows:
    """Sliding-window voice embeddings over a recording's speech."""

    start: np.ndarray  # (n,) s
    end: np.ndarray  # (n,) s
    region: np.ndarray  # (n,) index of the speech region the window lies in
    emb: np.ndarray  # (n, d) unit vectors

    @property
    def centre(self) -> np.ndarray:
        return (self.start + self.end) / 2


@dataclass(frozen=True)
class Diarization:
    windows: Windows
    posterior: np.ndarray  # (n, k) probability that each voice is speaking in each window
    centres: np.ndarray  # (k, d) unit voice centres
    separation: float  # how far apart the voices are (see :func:`separation`)
    overlapped: np.ndarray  # (n,) bool: the window sounds like a mix of voices
    interviewer: int | None = None  # the voice that asks the questions, when questions were given

    def word(self, start: float, end: float) -> tuple[int, float, bool]:
        """(voice, posterior probability of that voice, overlap) for the word spoken over [start, end) s."""
        t = self.windows.centre
        if not len(t):
            return 0, float("nan"), False
        mid = (start + end) / 2
        covers = (self.windows.start <= mid) & (self.windows.end >= mid)
        if covers.any():  # the windows holding the word's middle, the more central the heavier
            weight = 1.0 / (0.1 + np.abs(t[covers] - mid))
            p = (self.posterior[covers] * weight[:, None]).sum(0) / weight.sum()
            overlap = bool(self.overlapped[covers].mean() >= 0.5)
        else:
            nearest = int(np.argmin(np.abs(t - mid)))
            p, overlap = self.posterior[nearest], bool(self.overlapped[nearest])
        best = int(np.argmax(p))
        return best, float(p[best]), overlap


def region_windows(n_samples: int, sr: int, *, window_s: float = WINDOW_S, hop_s: float = HOP_S) -> list[tuple[int, int]]:
    """(start, end) samples of the windows over one region of ``n_samples``: every ``hop_s``, the
    last one ending at the region's end; a region shorter than a window is one window."""
    w, h = int(window_s * sr), int(hop_s * sr)
    if n_samples <= w:
        return [(0, n_samples)]
    starts = list(range(0, n_samples - w + 1, h))
    if starts[-1] + w < n_samples:
        starts.append(n_samples - w)
    return [(s, s + w) for s in starts]


def embed_regions(encoder, regions, read) -> Windows:
    """Sliding-window embeddings over the speech regions; ``read(start, end)`` gives 16 kHz audio.
    Only one region's audio is in memory at a time."""
    starts, ends, index, embs = [], [], [], []
    for i, r in enumerate(regions):
        x = read(r.start, r.end)
        spans = region_windows(len(x), encoder.sample_rate)
        embs.append(encoder.embed_windows(x, spans))
        starts += [r.start + s / encoder.sample_rate for s, _ in spans]
        ends += [r.start + e / encoder.sample_rate for _, e in spans]
        index += [i] * len(spans)
    d = embs[0].shape[1] if embs else 256
    return Windows(np.array(starts, dtype=float), np.array(ends, dtype=float), np.array(index, dtype=int),
                   np.concatenate(embs) if embs else np.zeros((0, d), np.float32))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def cluster(emb: np.ndarray, k: int, *, max_clustered: int = MAX_CLUSTERED) -> np.ndarray:
    """``k`` unit voice centres for unit embeddings: spectral clustering on cosine affinities (an
    even subsample beyond ``max_clustered`` windows), refined by k-means on the sphere over all."""
    if k <= 1 or not len(emb):
        return _unit(emb.mean(0, keepdims=True)) if len(emb) else np.zeros((1, emb.shape[1]))
    if len(emb) <= k:  # as many windows as voices, or fewer: each window is a voice
        return _unit(emb.copy())
    import warnings

    from sklearn.cluster import SpectralClustering

    sample = emb if len(emb) <= max_clustered else emb[np.linspace(0, len(emb) - 1, max_clustered).astype(int)]
    affinity = np.clip(sample @ sample.T, 0, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "graph is not fully connected": voices far apart, as hoped
        labels = SpectralClustering(k, affinity="precomputed", random_state=0,
                                    assign_labels="cluster_qr").fit_predict(affinity)
    centres = _unit(np.array([sample[labels == c].mean(0) for c in range(k)]))
    for _ in range(5):
        near = np.argmax(emb @ centres.T, axis=1)
        centres = _unit(np.array([emb[near == c].mean(0) if (near == c).any() else centres[c] for c in range(k)]))
    return centres


def separation(emb: np.ndarray, centres: np.ndarray) -> float:
    """How separable the voices are: the mean, over windows, of the cosine to their nearest voice's
    centre minus the cosine to the next nearest (0: indistinguishable; bench/speakers.py measures
    0.16-0.34 between two real people, 0.06-0.35 in corpora_sample)."""
    if len(centres) < 2 or not len(emb):
        return float("nan")
    sims = np.sort(emb @ centres.T, axis=1)
    return float(np.mean(sims[:, -1] - sims[:, -2]))


def smooth(windows: Windows, centres: np.ndarray, *, cue: np.ndarray | None = None,
           interviewer: int | None = None) -> tuple[np.ndarray, float]:
    """Forward-backward over the windows in time order: the (n, k) posteriors and the total
    log-likelihood. ``cue`` (n,) marks windows inside a question (1) or the answer after it (-1); with ``interviewer``
    (a voice index) the interview's structure enters (see the module's docstring)."""
    k, n = len(centres), len(windows.start)
    if n == 0:
        return np.zeros((0, k)), 0.0
    if k == 1:
        return np.ones((n, 1)), 0.0
    loglik = CONCENTRATION * HOP_S / WINDOW_S * (windows.emb @ centres.T)
    change = np.where(np.r_[False, windows.region[1:] == windows.region[:-1]], P_CHANGE_IN_SPEECH, P_CHANGE_AT_PAUSE)
    if cue is not None and interviewer is not None:
        asks = np.arange(k) == interviewer
        loglik = loglik + QUESTION_LOGP * np.outer(cue == 1, asks) + ANSWER_LOGP * np.outer(cue == -1, ~asks)
        change = np.where(np.r_[False, (cue[:-1] == 1) & (cue[1:] != 1)], P_CHANGE_AFTER_QUESTION, change)
    matrices = {}
    for p in set(change.tolist()):
        m = np.full((k, k), np.log(p / (k - 1)))
        np.fill_diagonal(m, np.log(1.0 - p))
        matrices[p] = m
    alpha = np.zeros((n, k))
    alpha[0] = loglik[0] - np.log(k)
    total = 0.0
    for i in range(n):
        if i:
            alpha[i] = loglik[i] + np.logaddexp.reduce(alpha[i - 1][:, None] + matrices[change[i]], axis=0)
        norm = np.logaddexp.reduce(alpha[i])
        alpha[i] -= norm
        total += norm
    beta = np.zeros((n, k))
    for i in range(n - 2, -1, -1):
        beta[i] = np.logaddexp.reduce(matrices[change[i + 1]] + (loglik[i + 1] + beta[i + 1])[None, :], axis=1)
        beta[i] -= np.logaddexp.reduce(beta[i])
    post = alpha + beta
    return np.exp(post - np.logaddexp.reduce(post, axis=1, keepdims=True)), float(total)


def seeded(windows: Windows, k: int, cue: np.ndarray, interviewer: int) -> np.ndarray:
    """Voice centres that start from the interview's structure: the interviewer's from the windows
    of questions, the others clustered from the rest."""
    asks = _unit(windows.emb[cue == 1].mean(0))
    return np.insert(cluster(windows.emb[cue != 1], k - 1), interviewer, asks, axis=0)


def refit(emb: np.ndarray, post: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each voice's centre re-estimated from the windows, weighted by its posterior."""
    return _unit(np.array([(post[:, c:c + 1] * emb).sum(0) if post[:, c].sum() > 1e-6 else centres[c]
                           for c in range(len(centres))]))


def overlapped(emb: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Windows that fit their own voice unusually badly and another unusually well (a mix)."""
    if len(centres) < 2 or len(emb) < 10:
        return np.zeros(len(emb), dtype=bool)
    sims = np.sort(emb @ centres.T, axis=1)
    return ((sims[:, -1] < np.percentile(sims[:, -1], OVERLAP_OWN_PERCENTILE))
            & (sims[:, -2] > np.percentile(sims[:, -2], OVERLAP_OTHER_PERCENTILE)))


def diarize(windows: Windows, k: int, *, cue: np.ndarray | None = None, has_interviewer: bool = False
            ) -> Diarization:
    """Give every window the posterior probability of each of ``k`` voices.

    ``cue`` (per window: 1 question, -1 its answer, 0 neither; :func:`sentence_cues`) and
    ``has_interviewer``: use the interview's structure; each voice in
    turn is tried as the interviewer and the likeliest is kept (``Diarization.interviewer``)."""
    structured = cue is not None and has_interviewer and k >= 2 and (cue == 1).any() and (cue != 1).sum() >= k
    plain = cluster(windows.emb, k)
    best = None
    # every (interviewer, starting centres) under the same model; the likeliest after EM is kept
    for c in (range(k) if structured else [None]):
        for voices in ([plain, seeded(windows, k, cue, c)] if c is not None else [plain]):
            for i in range(EM_ITERATIONS + 1):
                post, loglik = smooth(windows, voices, cue=cue, interviewer=c)
                if i < EM_ITERATIONS and k >= 2:
                    voices = refit(windows.emb, post, voices)
            if best is None or loglik > best[0]:
                best = (loglik, c, voices, post)
    _, interviewer, voices, post = best
    return Diarization(windows, post, voices, separation(windows.emb, voices), overlapped(windows.emb, voices), interviewer)


def sentence_cues(windows: Windows, sentences: list[tuple[float, float, bool]]) -> np.ndarray:
    """(n,) int8 per window: 1 if its centre lies in a question, -1 in the answer (the sentence
    after a question, and what follows it up to the end of its stretch of speech), else 0;
    ``sentences`` are (start, end, is_question) in time order."""
    cue = np.zeros(len(windows.start), dtype=np.int8)
    c = windows.centre
    for k, (start, end, is_question) in enumerate(sentences):
        inside = (c >= start) & (c <= end)
        if is_question:
            cue[inside] = 1
        elif k and sentences[k - 1][2] and inside.any():
            last = len(c) - 1 - int(np.argmax(inside[::-1]))  # the answer goes on to the end of its region
            cue[(inside | ((windows.region == windows.region[last]) & (c >= c[last]))) & (cue == 0)] = -1
    return cue


def turns(d: Diarization) -> list[tuple[int, float, float]]:
    """Runs of the most probable voice as (voice, start, end) s: each window stands for the
    ``HOP_S`` around its centre, the first and last windows of a region reach its edges."""
    n = len(d.windows.start)
    if not n:
        return []
    best = np.argmax(d.posterior, axis=1)
    c, region = d.windows.centre, d.windows.region
    first = np.r_[True, region[1:] != region[:-1]]
    last = np.r_[region[1:] != region[:-1], True]
    lo = np.where(first, d.windows.start, np.r_[c[0], (c[1:] + c[:-1]) / 2])
    hi = np.where(last, d.windows.end, np.r_[(c[1:] + c[:-1]) / 2, c[-1]])
    out: list[tuple[int, float, float]] = []
    for i in range(n):
        if out and out[-1][0] == best[i] and not first[i]:
            out[-1] = (out[-1][0], out[-1][1], float(hi[i]))
        else:
            out.append((int(best[i]), float(lo[i]), float(hi[i])))
    return out
