"""Which beats start a bar: a small GRU that steps once per beat on what each beat sounds like.

Layer: analysis. Threads: the analysis thread (live, through `NeuralBeatTracker`), or the
caller's thread (training, offline).

The per-hop network's downbeat activation knows little about bars (a downbeat is a musical
position, not a sound). This model instead sees each beat as a whole, the way a bar is heard:
for every beat the tracker emits, `BeatSync` pools the beat frontend's frames (log-mel bands
and their flux) over the beat's first part (``evidence_hops`` after it, the same span the
harmonic change uses) into `N_FEATURES` numbers: the spectral shape of the beat, what was struck
on it (flux over its first quarter) and over it, how the spectrum changed from the previous
beat, and the loudness. `BarModel` steps a GRU over these beat vectors and gives the probability
that the beat started a bar; `lumen.analysis.beat.hmm.BarTracker` turns that evidence into a
causal bar count.

The same pooling (`beat_features`) builds the training sequences from a clip's frames and its
exact beats (`lumen.analysis.train.bar`), so training and live use see the same numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lumen.analysis.beat import model as beat_model
from lumen.analysis.beat.model import _gru_layer, _sigmoid, load_checkpoint, standardized_module
from lumen.rt.jit import jit

__all__ = [
    "BAR_WEIGHTS_FILE",
    "N_FEATURES",
    "BarModel",
    "BeatSync",
    "attack_hops",
    "beat_features",
    "build_bar_net",
    "evidence_hops",
    "load_bar_net",
]

F32 = npt.NDArray[np.float32]

#: Mel bands of the beat frontend the features pool (its ``n_input`` is twice this).
N_MELS = 64
#: Numbers per beat: spectral shape, flux on the beat, flux over the beat, change from the
#: previous beat (``N_MELS`` each), loudness.
N_FEATURES = 4 * N_MELS + 1
#: The shipped weights (config beside them as ``.json``).
BAR_WEIGHTS_FILE = "bar_gru.pt"


def evidence_hops(interval: int) -> int:
    """Hops after a beat (of ``interval`` hops) until its bar evidence is complete: 0.8 of the beat."""
    return max(3, int(0.8 * interval))


def span_hops(interval: int) -> int:
    """Frames pooled for a beat: the beat's own hop, then `evidence_hops` + 1 more."""
    return evidence_hops(interval) + 2


def attack_hops(interval: int) -> int:
    """Frames at the start of the span counted as what was struck on the beat: a quarter beat."""
    return max(2, interval // 4)


@jit
def _finish(mel: F32, flux: F32, att: F32, n: int, n_att: int, prev: F32, has_prev: bool, out: F32) -> None:  # pragma: no cover
    """Features from the span's sums (see `BeatSync.features`); ``prev`` becomes this beat's mean mel."""
    m = mel.shape[0]
    inv = 1.0 / max(n, 1)
    inv_a = 1.0 / max(n_att, 1)
    level = 0.0
    for k in range(m):
        level += mel[k] * inv
    level /= m
    for k in range(m):
        v = mel[k] * inv
        out[k] = v - level
        out[m + k] = att[k] * inv_a
        out[2 * m + k] = flux[k] * inv
        out[3 * m + k] = v - prev[k] if has_prev else 0.0
        prev[k] = v
    out[4 * m] = level


class BeatSync:
    """Pools the frontend frames of the beat in progress into its feature vector (live).

    Call `beat` when a beat is emitted (its hop's frame already added), `add` with every hop's
    frame, and `features` once the span is complete (or a new beat comes first). Allocates
    nothing after construction.

    Parameters
    ----------
    n_mels : int
        Mel bands of the frames (frames have ``2 * n_mels`` numbers: log-mel, then flux).
    """

    def __init__(self, n_mels: int = N_MELS) -> None:
        self.n_mels = n_mels
        self.mel = np.zeros(n_mels, np.float32)
        self.flux = np.zeros(n_mels, np.float32)
        self.att = np.zeros(n_mels, np.float32)
        self.prev = np.zeros(n_mels, np.float32)
        self.out = np.zeros(4 * n_mels + 1, np.float32)
        self.reset()

    def reset(self) -> None:
        """No beat yet."""
        self.n = self.n_att = self.span = self.attack = 0
        self.has_prev = False
        self.mel[:] = self.flux[:] = self.att[:] = 0.0

    def beat(self, frame: F32, interval: int) -> None:
        """A beat of ``interval`` hops starts in the hop of ``frame``."""
        self.mel[:] = self.flux[:] = self.att[:] = 0.0
        self.n = self.n_att = 0
        self.span = span_hops(interval)
        self.attack = attack_hops(interval)
        self.add(frame)

    def add(self, frame: F32) -> None:
        """One hop's frame (ignored once the span is full)."""
        if self.n >= self.span:
            return
        m = self.n_mels
        np.add(self.mel, frame[:m], out=self.mel)
        np.add(self.flux, frame[m:], out=self.flux)
        if self.n < self.attack:
            np.add(self.att, frame[m:], out=self.att)
            self.n_att += 1
        self.n += 1

    def features(self) -> F32:
        """The beat's feature vector (`out`, overwritten by the next call)."""
        _finish(self.mel, self.flux, self.att, self.n, self.n_att, self.prev, self.has_prev, self.out)
        self.has_prev = True
        return self.out


def beat_features(x: npt.NDArray[np.floating[Any]], hops: npt.NDArray[np.int64], intervals: npt.NDArray[np.int64]) -> F32:
    """The feature vectors of a clip's beats at once, exactly as `BeatSync` gives them live.

    Parameters
    ----------
    x : ndarray, shape (n_hops, 2 * n_mels)
        Frontend frames (`lumen.analysis.beat.model.BeatFrontend.frames`).
    hops : ndarray of int
        The hop of each beat, increasing.
    intervals : ndarray of int
        Each beat's interval in hops (the tracker's period at that beat).

    Returns
    -------
    ndarray, shape (len(hops), 4 * n_mels + 1), float32
    """
    n_mels = x.shape[1] // 2
    sync = BeatSync(n_mels)
    out = np.zeros((len(hops), 4 * n_mels + 1), np.float32)
    xf = np.asarray(x, np.float32)
    n = xf.shape[0]
    for k, (h, i) in enumerate(zip(hops, intervals)):
        h = int(min(max(h, 0), n - 1))
        sync.beat(xf[h], int(i))
        end = min(n, h + sync.span)
        if k + 1 < len(hops):  # the next beat ends this one's span early
            end = min(end, int(hops[k + 1]))
        for j in range(h + 1, end):
            sync.add(xf[j])
        out[k] = sync.features()
    return out


def build_bar_net(cfg: dict[str, Any] | None = None) -> Any:
    """A fresh torch bar model: ``forward(f) -> logits`` for ``f`` of shape ``(batch, beats, N_FEATURES)``."""
    from torch import nn

    c = {"n_input": N_FEATURES, "n_hidden": 32, **(cfg or {})}

    class BarNet(standardized_module()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(c["n_input"])
            self.gru = nn.GRU(c["n_input"], c["n_hidden"], batch_first=True)
            self.head = nn.Linear(c["n_hidden"], 1)

        def forward(self, f: Any) -> Any:
            y, _h = self.gru(self.standardize(f))
            return self.head(y)[..., 0]

    return BarNet()


def load_bar_net(path: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """The trained bar model (eval mode) and its training configuration (strict, weights only).

    Default: ``bar_gru.pt`` in the beat model's `WEIGHTS_DIR` (read at call time, so a benchmark
    that points it at another folder gets that folder's bar model), or the package's own when
    that folder has none (a folder of beat members trained before the bar model existed).
    """
    if path is None:
        path = beat_model.WEIGHTS_DIR / BAR_WEIGHTS_FILE
        if not path.exists():
            path = beat_model._PACKAGE_WEIGHTS / BAR_WEIGHTS_FILE
    return load_checkpoint(path, build_bar_net)


class BarModel:
    """The bar model stepped once per beat in numba, from torch weights (no torch at run time).

    Parameters
    ----------
    net : torch.nn.Module
        A `build_bar_net` model.
    """

    def __init__(self, net: Any) -> None:
        sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
        self.mean, self.inv_std = sd["mean"], (1.0 / sd["std"]).astype(np.float32)
        self.w_ih, self.b_ih = sd["gru.weight_ih_l0"][None], sd["gru.bias_ih_l0"][None]
        self.w_hh, self.b_hh = sd["gru.weight_hh_l0"][None], sd["gru.bias_hh_l0"][None]
        self.w_out, self.b_out = sd["head.weight"][0], float(sd["head.bias"][0])
        hidden = self.w_hh.shape[2]
        self.x = np.zeros((1, self.mean.shape[0]), np.float32)
        self.h = np.zeros((1, hidden), np.float32)
        self.h_new = np.zeros((1, hidden), np.float32)

    def fork(self) -> BarModel:
        """A model sharing these weights with its own state."""
        twin = object.__new__(BarModel)
        twin.__dict__.update(self.__dict__)
        twin.x, twin.h, twin.h_new = np.zeros_like(self.x), np.zeros_like(self.h), np.zeros_like(self.h_new)
        return twin

    def reset(self) -> None:
        """Forget the beats so far."""
        self.h[:] = 0.0

    def step(self, features: F32) -> float:
        """Probability that the beat of ``features`` started a bar."""
        np.subtract(features, self.mean, out=self.x[0])
        np.multiply(self.x[0], self.inv_std, out=self.x[0])
        _gru_layer(self.w_ih, self.b_ih, self.w_hh, self.b_hh, self.x, self.h, self.h_new)
        v = float(np.dot(self.w_out, self.h[0])) + self.b_out
        return _sigmoid(v) if math.isfinite(v) else 0.5
