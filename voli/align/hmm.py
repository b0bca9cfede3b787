"""A monophone HMM-GMM aligner in torch: flat-start training and batched Viterbi alignment.

The model follows the classic recipe (HTK's and Kaldi's ``train_mono``): every
phone is a 3-state left-to-right HMM with a diagonal-covariance Gaussian
mixture per state; silence (``sil``) is a 3-state model at the edges of an
utterance and a 1-state optional short pause (``sp``, tied to silence's
middle state, so pauses inside an utterance are learnt from the silences
around it) may sit between words.
Training starts flat (every state is the global mean and variance, frames
shared out equally between an utterance's states) and alternates Viterbi
alignment with re-estimation, doubling the mixture components of states that
have enough frames every few iterations.

Everything is batched torch code over many utterances at once and runs on
whatever device the features are on; the CPU and the GPU run the same code.

An utterance's *graph* is its chain of HMM states::

    sil sil sil | p1 p1 p1 | p2 p2 p2 | sp | p3 p3 p3 ... | sil sil sil
    ^ may be skipped                        ^ may be skipped   ^ may be skipped

Each state is entered from the state before it or, when the state before is
an optional ``sp``, from the one before that.

A word may also carry a frame window (from Whisper's word times, see
:func:`position_windows`): its states pay :data:`OUTSIDE_WINDOW` per frame
outside it, so acoustics that could fit two places (a filler's vowel, a pause)
cannot carry the word far from where the recogniser heard it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

MODEL_VERSION = 7  # bump when training changes: saved models retrain on the next run
SIL = "sil"
SP = "sp"
STATES_PER_PHONE = 3
LOG_2PI = math.log(2 * math.pi)
NEG_INF = float("-inf")
OUTSIDE_WINDOW = 10.0  # nats per frame a word's state pays outside the word's window (see position_windows)


@dataclass
class Graph:
    """The state chain of one utterance, and what each position belongs to."""

    states: np.ndarray  # (S,) model state index at each position
    skippable_from: np.ndarray  # (S,) bool: position s may be entered from s - 2 (s - 1 is an optional sp)
    can_start: np.ndarray  # (S,) bool
    can_end: np.ndarray  # (S,) bool
    unit: np.ndarray  # (S,) index of the phone unit (into units) each position belongs to
    units: list[tuple[int, str]]  # (word index or -1 for silence, phone label) per unit
    loops: np.ndarray  # (S,) index into the model's self-loops: the state's own, or the short pause's

    @property
    def word_of(self) -> np.ndarray:
        """(S,) the word index of each position, -1 for silences and pauses."""
        return np.array([self.units[u][0] for u in self.unit])

    @property
    def n_emitting_min(self) -> int:
        """The fewest frames this graph can take (every state at least once, optional parts skipped)."""
        mandatory = [u for u in range(len(self.units)) if self.units[u][1] not in (SIL, SP)]
        return STATES_PER_PHONE * len(mandatory)


@dataclass
class AcousticModel:
    """Phones, their states' Gaussian mixtures and self-loop probabilities."""

    phones: list[str]  # index 0 is sil; sp is sil's middle state
    means: torch.Tensor  # (K, M, D)
    variances: torch.Tensor  # (K, M, D)
    log_weights: torch.Tensor  # (K, M); -inf marks an unused component
    log_self_loop: torch.Tensor  # (K + 1,): each state's, then the short pause's own (see sp_loop)
    info: dict = field(default_factory=dict)  # training data, options and scores, for the model card

    @property
    def n_states(self) -> int:
        return self.means.shape[0]

    @property
    def sp_state(self) -> int:
        """The short pause shares silence's middle state (HTK's "tee" model tied to sil)."""
        return self.state(SIL, 1)

    @property
    def sp_loop(self) -> int:
        """The short pause's self-loop: its own, not silence's middle state's. Edge silence passes
        that state in a frame or two, so a pause tied to its loop would cost about 3 nats a frame
        and the path would rather stretch the phones around a pause than pause."""
        return self.n_states

    def state(self, phone: str, j: int) -> int:
        return self._index[phone] * STATES_PER_PHONE + j

    def __post_init__(self):
        self._index = {p: i for i, p in enumerate(self.phones)}

    def knows(self, phone: str) -> bool:
        return phone in self._index

    def to(self, device) -> "AcousticModel":
        return AcousticModel(self.phones, self.means.to(device), self.variances.to(device),
                             self.log_weights.to(device), self.log_self_loop.to(device), self.info)

    # -- likelihoods --------------------------------------------------------------------------

    def component_loglik(self, x: torch.Tensor, states: torch.Tensor | None = None) -> torch.Tensor:
        """log N(x; mean, var) + log weight for every component of ``states`` (default all): (N, K, M)."""
        means, variances, log_weights = self.means, self.variances, self.log_weights
        if states is not None:
            means, variances, log_weights = means[states], variances[states], log_weights[states]
        K, M, D = means.shape
        inv = (1.0 / variances).reshape(K * M, D)
        mu = means.reshape(K * M, D)
        const = -0.5 * (D * LOG_2PI + torch.log(variances).sum(-1).reshape(K * M) + (mu * mu * inv).sum(-1))
        ll = -0.5 * (x * x) @ inv.T + x @ (mu * inv).T + const
        return ll.reshape(-1, K, M) + log_weights

    def state_loglik(self, x: torch.Tensor, states: torch.Tensor | None = None, chunk: int = 20000) -> torch.Tensor:
        """log p(x | state) for every frame and state (or only ``states``): (N, K)."""
        M = self.means.shape[1]
        used = int(torch.isfinite(self.log_weights).sum(1).max())  # trailing unused components cost nothing
        out = []
        for i in range(0, len(x), chunk):
            ll = self.component_loglik(x[i: i + chunk], states)[..., :used] if used < M else \
                self.component_loglik(x[i: i + chunk], states)
            top = ll.max(-1, keepdim=True).values
            out.append((top + torch.log(torch.exp(ll - top).sum(-1, keepdim=True))).squeeze(-1))
        return torch.cat(out) if out else x.new_zeros(0, self.n_states if states is None else len(states))

    # -- files -------------------------------------------------------------------------------

    def save(self, directory: Path) -> Path:
        """Write ``model.pt`` and a readable ``card.json`` (phones, data, options, scores)."""
        from voli.io.tables import write_text

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "model.pt.tmp"
        torch.save({"phones": self.phones, "means": self.means.cpu(), "variances": self.variances.cpu(),
                    "log_weights": self.log_weights.cpu(), "log_self_loop": self.log_self_loop.cpu(),
                    "info": self.info}, tmp)
        tmp.replace(directory / "model.pt")
        write_text(json.dumps({"format": "voli monophone HMM-GMM", "phones": self.phones,
                               "states_per_phone": STATES_PER_PHONE,
                               "gaussians": int(torch.isfinite(self.log_weights).sum()), **self.info},
                              indent=2, ensure_ascii=False, default=str), directory / "card.json")
        return directory

    @classmethod
    def load(cls, directory: Path, device="cpu") -> "AcousticModel":
        from voli.errors import ModelError
        from voli.workdir import rel

        path = Path(directory) / "model.pt"
        if not path.is_file():
            raise ModelError(f"{directory}: no alignment model here (model.pt); train one with `voli align`, "
                             f"which saves it under <workdir>/{rel('align', 'model')}")
        data = torch.load(path, map_location=device, weights_only=True)
        model = cls(data["phones"], data["means"], data["variances"], data["log_weights"], data["log_self_loop"],
                    data.get("info", {}))
        loops = model.log_self_loop
        if len(loops) == model.n_states:  # saved before the pause had its own loop: it had silence's
            model.log_self_loop = torch.cat([loops, loops[model.sp_state: model.sp_state + 1]])
        return model


# -- graphs ------------------------------------------------------------------------------------


def compile_graph(model_or_phones, prons: list[tuple[str, ...]]) -> Graph:
    """The state chain for one utterance whose words are pronounced ``prons``."""
    index = (model_or_phones._index if isinstance(model_or_phones, AcousticModel)
             else {p: i for i, p in enumerate(model_or_phones)})
    sp_state = index[SIL] * STATES_PER_PHONE + 1  # tied to silence's middle state
    sp_loop = len(index) * STATES_PER_PHONE  # but with a self-loop of its own (AcousticModel.sp_loop)
    states, skip, unit, units, loops = [], [], [], [], []

    def add_phone(label: str, word: int):
        for j in range(STATES_PER_PHONE):
            states.append(index[label] * STATES_PER_PHONE + j)
            loops.append(states[-1])
            skip.append(False)
            unit.append(len(units))
        units.append((word, label))

    add_phone(SIL, -1)
    for w, pron in enumerate(prons):
        if w > 0:
            states.append(sp_state)
            loops.append(sp_loop)
            skip.append(False)
            unit.append(len(units))
            units.append((-1, SP))
        for k, label in enumerate(pron):
            add_phone(label, w)
            if w > 0 and k == 0:
                skip[-STATES_PER_PHONE] = True  # the word's first state may follow the last word directly
    add_phone(SIL, -1)
    S = len(states)
    can_start = np.zeros(S, bool)
    can_start[[0, STATES_PER_PHONE]] = True
    can_end = np.zeros(S, bool)
    can_end[[S - 1, S - 1 - STATES_PER_PHONE]] = True
    return Graph(np.array(states), np.array(skip), can_start, can_end, np.array(unit), units, np.array(loops))


def _share(positions: np.ndarray, n_frames: int) -> np.ndarray:
    return positions[np.minimum((np.arange(n_frames) * len(positions)) // max(n_frames, 1), len(positions) - 1)]


def _fill_from_words(graph: Graph, n_frames: int, word_frames: list[tuple[int, int]]) -> np.ndarray | None:
    word_of = graph.word_of
    if len(word_frames) != word_of.max() + 1:
        return None
    spans, prev = [], 0
    for a, b in word_frames:  # make the word times monotone and non-overlapping
        a = max(a, prev)
        b = max(b, a)
        spans.append((a, b))
        prev = b
    first, last = spans[0][0], spans[-1][1]
    if not (0 < first and last < n_frames):
        return None
    path = np.empty(n_frames, dtype=np.int64)
    path[:first] = _share(np.arange(STATES_PER_PHONE), first)
    path[last:] = _share(np.arange(len(graph.states) - STATES_PER_PHONE, len(graph.states)), n_frames - last)
    for w, (a, b) in enumerate(spans):
        mine = np.flatnonzero(word_of == w)
        if b - a < len(mine):
            return None
        path[a:b] = _share(mine, b - a)
        b_next = spans[w + 1][0] if w + 1 < len(spans) else last
        if b_next > b:  # a pause after the word: its sp
            path[b:b_next] = mine[-1] + 1 if w + 1 < len(spans) else mine[-1]
    return path


def equal_alignment(graph: Graph, n_frames: int, word_frames: list[tuple[int, int]] | None = None) -> np.ndarray:
    """The flat start: frames shared out equally between states.

    Without word times, the mandatory states share the whole utterance. With
    ``word_frames`` (each word's first and last-plus-one frame, e.g. from
    Whisper), frames outside the words go to silence and each word's frames
    are shared between its own states; an utterance whose word times leave a
    word fewer frames than states falls back to the plain split.
    """
    keep = np.array([graph.units[u][1] not in (SIL, SP) for u in graph.unit])
    positions = np.flatnonzero(keep)
    path = _fill_from_words(graph, n_frames, word_frames) if word_frames else None
    if path is not None:
        return path
    if len(positions) == 0 or n_frames < len(positions):
        positions = np.arange(len(graph.states))
    return _share(positions, n_frames)


# -- Viterbi -----------------------------------------------------------------------------------


def position_windows(graph: Graph, windows: list[tuple[int, int] | None]) -> np.ndarray:
    """(S, 2) first and last frame each graph position may occupy without paying
    :data:`OUTSIDE_WINDOW`: a word's states get the word's window (None: no limit),
    silences and pauses are free."""
    out = np.tile(np.array([0, np.iinfo(np.int32).max], dtype=np.int64), (len(graph.states), 1))
    word_of = graph.word_of
    for w, window in enumerate(windows):
        if window is not None:
            out[word_of == w] = window
    return out


def viterbi(model: AcousticModel, feats: list[torch.Tensor], graphs: list[Graph],
            windows: list[np.ndarray | None] | None = None) -> list[tuple | None]:
    """Best path through each graph: (graph position per frame, total log-likelihood, the
    emission log-likelihood of each frame on the path), or None where the utterance has
    fewer frames than its graph needs.

    ``windows``: per utterance, None or the (S, 2) frame window of each position
    (:func:`position_windows`); a frame outside it costs :data:`OUTSIDE_WINDOW` (not counted
    in the returned emission log-likelihoods).

    All utterances advance one frame per step together; tensors are (batch, positions).
    """
    device = model.means.device
    B = len(feats)
    T = max(len(f) for f in feats)
    S = max(len(g.states) for g in graphs)
    lengths = torch.tensor([len(f) for f in feats], device=device)
    idx = torch.zeros(B, S, dtype=torch.long, device=device)
    loop_idx = torch.zeros(B, S, dtype=torch.long, device=device)
    valid = torch.zeros(B, S, dtype=torch.bool, device=device)
    skip = torch.zeros(B, S, dtype=torch.bool, device=device)
    start = torch.zeros(B, S, dtype=torch.bool, device=device)
    end = torch.zeros(B, S, dtype=torch.bool, device=device)
    for b, g in enumerate(graphs):
        n = len(g.states)
        idx[b, :n] = torch.from_numpy(g.states)
        loop_idx[b, :n] = torch.from_numpy(g.loops)
        valid[b, :n] = True
        skip[b, :n] = torch.from_numpy(g.skippable_from)
        start[b, :n] = torch.from_numpy(g.can_start)
        end[b, :n] = torch.from_numpy(g.can_end)
    lo = torch.zeros(B, S, dtype=torch.long, device=device)
    hi = torch.full((B, S), T, dtype=torch.long, device=device)
    for b, w in enumerate(windows or []):
        if w is not None:
            lo[b, : len(w)] = torch.from_numpy(w[:, 0])
            hi[b, : len(w)] = torch.from_numpy(np.minimum(w[:, 1], T))
    # emissions only for the states this batch uses (one language's phones, not the whole model)
    needed, idx = torch.unique(idx, return_inverse=True)
    loglik = torch.full((B, T, len(needed)), NEG_INF, device=device)
    for b, f in enumerate(feats):
        loglik[b, : len(f)] = model.state_loglik(f, needed)
    stay = model.log_self_loop[loop_idx]
    leave = torch.log1p(-stay.exp().clamp(max=1 - 1e-6))
    neg = torch.full((B, 1), NEG_INF, device=device)
    neg2 = torch.full((B, 2), NEG_INF, device=device)
    windowed = any(w is not None for w in windows or [])

    def outside(t: int) -> torch.Tensor | float:
        return ((t < lo) | (t > hi)) * OUTSIDE_WINDOW if windowed else 0.0

    delta = torch.where(start & valid, loglik[:, 0].gather(1, idx) - outside(0), torch.full_like(stay, NEG_INF))
    back = torch.zeros(B, T, S, dtype=torch.int8, device=device)
    for t in range(1, T):
        out = delta + leave
        cands = torch.stack([delta + stay,
                             torch.cat([neg, out[:, :-1]], 1),
                             torch.where(skip, torch.cat([neg2, out[:, :-2]], 1), NEG_INF)], 0)
        best, arg = cands.max(0)
        new = torch.where(valid, best + loglik[:, t].gather(1, idx) - outside(t), NEG_INF)
        live = (t < lengths)[:, None]
        delta = torch.where(live, new, delta)
        back[:, t] = torch.where(live, arg.to(torch.int8), 0)
    final = torch.where(end & valid, delta, NEG_INF)
    score, pos = final.max(1)
    # trace all utterances back together
    paths = torch.zeros(B, T, dtype=torch.long, device=device)
    for t in range(T - 1, -1, -1):
        live = t < lengths
        paths[:, t] = torch.where(live, pos, 0)
        step = back[:, t].gather(1, pos[:, None]).squeeze(1).long()
        pos = torch.where(live, pos - step, pos)
    on_path = loglik.gather(2, idx.gather(1, paths)[..., None]).squeeze(2)
    paths, score, on_path = paths.cpu().numpy(), score.cpu().numpy(), on_path.cpu().numpy()
    out = []
    for b, f in enumerate(feats):
        n = len(f)
        out.append((paths[b, :n], float(score[b]), on_path[b, :n]) if np.isfinite(score[b]) else None)
    return out


def align_batches(model: AcousticModel, feats: list[torch.Tensor], graphs: list[Graph], batch_size: int = 16,
                  windows: list[np.ndarray | None] | None = None):
    """:func:`viterbi` over batches of utterances of similar length (less padding)."""
    windows = windows or [None] * len(feats)
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]))
    results: list = [None] * len(feats)
    for k in range(0, len(order), batch_size):
        chunk = order[k: k + batch_size]
        fits = [i for i in chunk if len(feats[i]) >= graphs[i].n_emitting_min]
        if fits:
            for i, r in zip(fits, viterbi(model, [feats[i] for i in fits], [graphs[i] for i in fits],
                                           [windows[i] for i in fits])):
                results[i] = r
    return results


# -- training -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainOptions:
    iterations: int = 30  # of the final pass
    first_pass_iterations: int = 10  # of the pass that only has to find the pauses (with restart)
    max_components: int = 8  # Gaussians per state at most
    first_split: int = 10  # single Gaussians until this iteration: pure phone models settle the boundaries first
    split_every: int = 3  # iterations between mixture splits after that
    min_frames_per_component: int = 20  # a state's mixture doubles only with this many frames per new component
    variance_floor: float = 0.01  # times the global variance
    variance_prior_frames: float = 30.0  # a component's variance is pulled toward the global one as if by this many frames (MAP)
    batch_size: int = 16
    restart: bool = True  # train again from a flat start that keeps only the first pass's pauses


def _initial_model(phones: list[str], feats: torch.Tensor, max_components: int) -> AcousticModel:
    K = len(phones) * STATES_PER_PHONE
    D = feats.shape[1]
    mean, var = feats.mean(0), feats.var(0)
    means = mean.expand(K, max_components, D).clone()
    variances = var.expand(K, max_components, D).clone()
    log_weights = torch.full((K, max_components), NEG_INF, device=feats.device)
    log_weights[:, 0] = 0.0
    return AcousticModel(list(phones), means, variances, log_weights,
                         torch.full((K + 1,), math.log(0.6), device=feats.device))


def reestimate(model: AcousticModel, frames: torch.Tensor, states: torch.Tensor, var_floor: torch.Tensor,
               chunk: int = 20000, var_prior: torch.Tensor | None = None, prior_frames: float = 0.0) -> AcousticModel:
    """One EM update of every state's mixture from frames hard-assigned to states."""
    K, M, D = model.means.shape
    used = int(torch.isfinite(model.log_weights).sum(1).max())  # components are filled in order
    occ = torch.zeros(K * M, device=frames.device)
    sx = torch.zeros(K * M, D, device=frames.device)
    sxx = torch.zeros(K * M, D, device=frames.device)
    for i in range(0, len(frames), chunk):
        x, s = frames[i: i + chunk], states[i: i + chunk]
        mu, var, lw = model.means[s, :used], model.variances[s, :used], model.log_weights[s, :used]  # (n, m, D)
        ll = -0.5 * (((x[:, None, :] - mu) ** 2) / var + torch.log(var)).sum(-1) + lw
        gamma = torch.softmax(ll, dim=-1)  # (n, used); unused components get 0
        comp = (s[:, None] * M + torch.arange(used, device=x.device)).reshape(-1)
        g = gamma.reshape(-1)
        xr = x[:, None, :].expand(-1, used, -1).reshape(-1, D)
        occ.index_add_(0, comp, g)
        sx.index_add_(0, comp, g[:, None] * xr)
        sxx.index_add_(0, comp, g[:, None] * xr * xr)
    occ, sx, sxx = occ.reshape(K, M), sx.reshape(K, M, D), sxx.reshape(K, M, D)
    seen = occ > 1.0
    safe = occ.clamp_min(1e-6)[..., None]
    new_means = torch.where(seen[..., None], sx / safe, model.means)
    own_vars = (sxx / safe - new_means ** 2).clamp_min(0)
    if var_prior is not None and prior_frames > 0:
        own_vars = (occ[..., None] * own_vars + prior_frames * var_prior) / (occ[..., None] + prior_frames)
    new_vars = torch.where(seen[..., None], own_vars, model.variances)
    new_vars = torch.maximum(new_vars, var_floor)
    state_occ = occ.sum(1, keepdim=True)
    active = torch.isfinite(model.log_weights)
    new_lw = torch.where(active & seen, torch.log(occ / state_occ.clamp_min(1e-6)), model.log_weights)
    new_lw = torch.where(active & ~seen & (state_occ > 1), torch.log(torch.full_like(occ, 1e-3)), new_lw)
    return AcousticModel(model.phones, new_means, new_vars, new_lw, model.log_self_loop, model.info)


def split_mixtures(model: AcousticModel, state_frames: torch.Tensor, min_frames: int) -> AcousticModel:
    """Double the components of each state with enough frames (means moved +-0.2 standard deviations)."""
    K, M, D = model.means.shape
    means, variances, lw = model.means.clone(), model.variances.clone(), model.log_weights.clone()
    active = torch.isfinite(lw).sum(1)
    for k in range(K):
        m = int(active[k])
        if 2 * m > M or state_frames[k] < 2 * m * min_frames:
            continue
        sd = variances[k, :m].sqrt()
        means[k, m: 2 * m] = means[k, :m] + 0.2 * sd
        means[k, :m] = means[k, :m] - 0.2 * sd
        variances[k, m: 2 * m] = variances[k, :m]
        lw[k, :m] -= math.log(2)
        lw[k, m: 2 * m] = lw[k, :m]
    return AcousticModel(model.phones, means, variances, lw, model.log_self_loop, model.info)


def _self_loops(paths: list[np.ndarray], graphs: list[Graph], K: int, device) -> torch.Tensor:
    """Self-loop probability per state from the alignment's state durations."""
    stays = np.zeros(K)
    visits = np.zeros(K)
    for path, g in zip(paths, graphs):
        st = g.loops[path]
        same = path[1:] == path[:-1]
        np.add.at(stays, st[1:][same], 1)
        np.add.at(visits, st, 1)
    leaves = visits - stays
    p = (stays + 1) / (stays + leaves + 2)  # add-one smoothing
    return torch.log(torch.tensor(p, dtype=torch.float32, device=device).clamp(0.05, 0.95))


def pause_anchored(graph: Graph, path: np.ndarray) -> np.ndarray:
    """A flat start that keeps a path's silences: frames between two silences are shared out
    equally between the phone states the path visits there."""
    labels = np.array([graph.units[u][1] for u in graph.unit])
    pause = np.isin(labels[path], [SIL, SP])
    out = path.copy()
    t, n = 0, len(path)
    while t < n:
        if pause[t]:
            t += 1
            continue
        e = t
        while e < n and not pause[e]:
            e += 1
        lo, hi = path[t:e].min(), path[t:e].max()
        positions = np.array([q for q in range(lo, hi + 1) if labels[q] not in (SIL, SP)])
        if len(positions) <= e - t:
            out[t:e] = _share(positions, e - t)
        t = e
    return out


def _train_pass(feats, graphs, paths, phones, allf, global_var, options, log, windows=None):
    model = _initial_model(phones, allf, options.max_components)
    var_floor = options.variance_floor * global_var
    prior = dict(var_prior=global_var, prior_frames=options.variance_prior_frames)
    history = []
    for it in range(options.iterations):
        states = torch.from_numpy(np.concatenate([g.states[p] for p, g in zip(paths, graphs)])).to(allf.device)
        for _ in range(2 if it == 0 else 1):
            model = reestimate(model, allf, states, var_floor, **prior)
        model.log_self_loop = _self_loops(paths, graphs, model.n_states + 1, allf.device)
        if it >= options.first_split and (it - options.first_split) % options.split_every == 0:
            counts = torch.bincount(states, minlength=model.n_states)
            model = split_mixtures(model, counts, options.min_frames_per_component)
            model = reestimate(model, allf, states, var_floor, **prior)
        results = align_batches(model, feats, graphs, options.batch_size, windows)
        total = sum(r[1] for r in results if r is not None)
        history.append(total / len(allf))
        paths = [r[0] if r is not None else p for r, p in zip(results, paths)]
        if log is not None:
            log(f"iteration {it + 1}/{options.iterations}: log-likelihood per frame {history[-1]:.3f}, "
                f"{int(torch.isfinite(model.log_weights).sum())} Gaussians")
    return model, paths, history


def train(feats: list[torch.Tensor], prons: list[list[tuple[str, ...]]], options: TrainOptions = TrainOptions(),
          word_frames: list | None = None, log=None, word_windows: list | None = None) -> AcousticModel:
    """Flat-start Viterbi training of a monophone model on utterances (features, word pronunciations).

    ``word_frames``: for each utterance, rough (start, end) frames of its words
    (Whisper's), used only to share out frames at the flat start.
    ``word_windows``: for each utterance, None or each word's (first, last) allowed
    frame or None (see :func:`position_windows`), kept in every training alignment.
    """
    phones = [SIL] + sorted({p for utt in prons for w in utt for p in w} - {SIL})
    graphs = [compile_graph(phones, p) for p in prons]
    keep = [i for i, (f, g) in enumerate(zip(feats, graphs)) if len(f) >= g.n_emitting_min and len(g.units) > 2]
    feats, graphs = [feats[i] for i in keep], [graphs[i] for i in keep]
    spans = [word_frames[i] for i in keep] if word_frames is not None else [None] * len(keep)
    windows = [position_windows(g, word_windows[i]) if word_windows is not None and word_windows[i] is not None
               else None for g, i in zip(graphs, keep)]
    if not feats:
        from voli.errors import AlignmentError

        raise AlignmentError("no utterance long enough to train an alignment model (each phone needs 3 frames)")
    allf = torch.cat(feats)
    global_var = allf.var(0)
    paths = [equal_alignment(g, len(f), w) for f, g, w in zip(feats, graphs, spans)]
    first = dataclasses.replace(options, iterations=options.first_pass_iterations) if options.restart else options
    model, paths, history = _train_pass(feats, graphs, paths, phones, allf, global_var, first, log, windows)
    if options.restart:
        # Whisper's word times run early (about 55 ms on simulated speech), and a model started from
        # them keeps part of that shift. The second pass starts flat again, keeping only where the
        # first pass found silence; between pauses the frames are shared out equally.
        paths = [pause_anchored(g, p) for g, p in zip(graphs, paths)]
        model, paths, more = _train_pass(feats, graphs, paths, phones, allf, global_var, options, log, windows)
        history += more
    model.info = {"training": {"utterances": len(feats), "frames": int(len(allf)),
                               "iterations": options.iterations, "loglik_per_frame": history},
                  "options": dataclasses.asdict(options)}
    return model
