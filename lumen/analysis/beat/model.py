"""The beat model: a causal log-mel frontend and a small GRU giving beat and downbeat activations.

Layer: analysis. Threads: the analysis thread (`BeatFrontend.frame`, `StreamingBeatModel.step`),
or any thread offline (`BeatFrontend.frames`, `BeatModel`, `load_weights`).

The frontend turns the magnitude spectrum the analysis chain already computes once per 10 ms
hop (`lumen.analysis.base.HopContext.mag`: a Hann window of about 43-46 ms at any sample rate)
into 64 log-mel bands from 30 Hz to 11 kHz plus their positive first difference (spectral flux
per band): 128 numbers per hop. The same code computes it for a whole file (training, tests)
and per hop (live), so the model sees the same input in both.

The model is ``Linear(128, 64) -> ELU -> GRU(64, 80) x 2 -> Linear(80, 2)``: about 82 000
parameters, strictly causal (a unidirectional GRU), with two logits per hop: beat and
downbeat. lumen ships an ensemble of two such models trained on different music (`MEMBERS`:
"gm" on generated General MIDI pieces and dance tracks, "wad" also on freedoom's game music);
the tracker uses the mean of their activations. Training is `lumen.analysis.train.beat`; the
shipped weights are in ``weights/`` beside this file, each member's training configuration in
a JSON file next to its weights.

Live inference runs in numpy (`StreamingBeatModel`): the members are fused into one wide GRU
with block-diagonal weights (`_fuse`), one step per hop on preallocated buffers, with weights
copied from the strictly loaded torch state dicts. It is checked to match
the torch model, and ``benchmarks/beat_accuracy.py`` measures it against running the torch
modules per hop under ``inference_mode`` with one thread (numpy is the faster of the two here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from lumen.analysis.base import AnalysisSpec

if TYPE_CHECKING:
    import torch

__all__ = [
    "N_INPUT",
    "N_MELS",
    "WEIGHTS_DIR",
    "BeatFrontend",
    "ModelConfig",
    "StreamingBeatModel",
    "MEMBERS",
    "build_model",
    "load_ensemble",
    "load_weights",
    "member_files",
]

#: Mel bands of the frontend, and the frontend's output size (bands plus their flux).
N_MELS: Final[int] = 64
N_INPUT: Final[int] = 2 * N_MELS
#: Frequency range of the mel bands, Hz.
FMIN_HZ: Final[float] = 30.0
FMAX_HZ: Final[float] = 11000.0
#: Log compression: ``log10(1 + LOG_MUL * magnitude)``, magnitude normalised by the window sum.
LOG_MUL: Final[float] = 1000.0

#: Where the shipped weights live.
WEIGHTS_DIR: Final[Path] = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE: Final[str] = "beat_gru.pt"
CONFIG_FILE: Final[str] = "beat_gru.json"
#: The shipped ensemble, member name -> weights file in `WEIGHTS_DIR` (each with its training
#: configuration in the ``.json`` beside it): "gm" learnt from generated General MIDI pieces
#: and dance tracks, "wad" also from freedoom's game music. `lumen train beat --member NAME`
#: trains one (`lumen.analysis.train.beat.MEMBER_CONFIGS`).
MEMBERS: Final[dict[str, str]] = {"gm": WEIGHTS_FILE, "wad": "beat_gru_wad.pt"}

F32 = npt.NDArray[np.float32]


def _hz_to_mel(f: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_matrix(sr: int, n_fft: int, n_mels: int = N_MELS, fmin_hz: float = FMIN_HZ, fmax_hz: float = FMAX_HZ) -> F32:
    """Triangular mel filters over rfft bins, each summing to 1, shape ``(n_mels, n_fft // 2 + 1)``.

    A band narrower than the bin spacing (the lowest ones at small FFT sizes) takes its nearest
    bin, so no band is empty at any sample rate.
    """
    fmax = min(fmax_hz, sr / 2.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin_hz), _hz_to_mel(fmax), n_mels + 2))
    w = np.zeros((n_mels, freqs.size), dtype=np.float64)
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        w[m] = np.maximum(0.0, np.minimum(up, down))
        if w[m].sum() <= 0.0:
            w[m, int(np.argmin(np.abs(freqs - c)))] = 1.0
        w[m] /= w[m].sum()
    return w.astype(np.float32)


class BeatFrontend:
    """Log-mel bands and their positive flux from `HopContext.mag`, per hop or for a file.

    Parameters
    ----------
    spec : AnalysisSpec
        Gives ``sr`` and ``n_fft`` (the chain's FFT).
    n_mels : int
        Mel bands (the model's ``n_input`` is twice this).
    """

    def __init__(self, spec: AnalysisSpec, n_mels: int = N_MELS) -> None:
        self.spec = spec
        self.n_mels = n_mels
        self.mel = mel_matrix(spec.sr, spec.n_fft, n_mels)
        # |rfft| of a Hann-windowed full-scale sine peaks at sum(window) / 2.
        self.scale = np.float32(2.0 / float(np.sum(np.hanning(spec.n_fft))))
        self.out = np.zeros(2 * n_mels, dtype=np.float32)
        self._logmel = self.out[:n_mels]
        self._flux = self.out[n_mels:]
        self._prev = np.zeros(n_mels, dtype=np.float32)
        self._tmp = np.zeros(n_mels, dtype=np.float32)

    def frame(self, mag: F32) -> F32:
        """The model input for one hop from its magnitude spectrum (shape ``(n_fft//2+1,)``).

        Returns `out` (shape ``(2 * n_mels,)``, float32), overwritten by the next call. Allocates
        nothing.
        """
        np.dot(self.mel, mag, out=self._tmp)
        self._tmp *= self.scale * np.float32(LOG_MUL)
        np.log1p(self._tmp, out=self._logmel)
        self._logmel *= np.float32(1.0 / np.log(10.0))
        np.subtract(self._logmel, self._prev, out=self._flux)
        np.maximum(self._flux, 0.0, out=self._flux)
        self._prev[:] = self._logmel
        return self.out

    def reset(self) -> None:
        """Forget the previous hop."""
        self._prev[:] = 0.0

    def frames(self, audio: npt.NDArray[np.floating[Any]]) -> F32:
        """Model inputs for a whole mono signal, identical to calling `frame` hop by hop.

        Parameters
        ----------
        audio : ndarray, shape (n_samples,)

        Returns
        -------
        ndarray, shape (n_samples // hop_length, 2 * n_mels), float32
        """
        hop, n_fft = self.spec.hop_length, self.spec.n_fft
        nm = self.n_mels
        x = np.ascontiguousarray(audio, dtype=np.float32)
        n = x.shape[0] // hop
        out = np.zeros((n, 2 * nm), dtype=np.float32)
        if n == 0:
            return out
        padded = np.concatenate([np.zeros(n_fft, np.float32), x[: n * hop]])
        win = np.hanning(n_fft).astype(np.float32)
        prev = np.zeros(nm, np.float32)
        block = 2048
        for s in range(0, n, block):
            e = min(n, s + block)
            idx = (np.arange(s, e)[:, None] + 1) * hop + np.arange(n_fft)[None, :]
            mag = np.abs(np.fft.rfft(padded[idx] * win, axis=1)).astype(np.float32)
            mel = mag @ self.mel.T
            logmel = np.log1p(mel * (self.scale * np.float32(LOG_MUL))) * np.float32(1.0 / np.log(10.0))
            out[s:e, :nm] = logmel
            flux = np.diff(np.concatenate([prev[None, :], logmel]), axis=0)
            out[s:e, nm:] = np.maximum(flux, 0.0)
            prev = logmel[-1]
        return out


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the beat model (stored with the weights)."""

    n_input: int = N_INPUT
    n_proj: int = 64
    n_hidden: int = 80
    n_layers: int = 2
    n_out: int = 2


def build_model(cfg: ModelConfig | None = None) -> torch.nn.Module:
    """A fresh (untrained) torch beat model.

    ``forward(x, h=None) -> (logits, h)`` with ``x`` of shape ``(batch, time, n_input)`` and
    logits of shape ``(batch, time, 2)`` (beat, downbeat). Inputs are standardised inside the
    model with the ``mean``/``std`` buffers, which training sets from its data.
    """
    import torch
    from torch import nn

    c = cfg or ModelConfig()

    class BeatModel(nn.Module):
        mean: torch.Tensor
        std: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(c.n_input))
            self.register_buffer("std", torch.ones(c.n_input))
            self.proj = nn.Linear(c.n_input, c.n_proj)
            self.gru = nn.GRU(c.n_proj, c.n_hidden, c.n_layers, batch_first=True)
            self.head = nn.Linear(c.n_hidden, c.n_out)

        def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
            z = torch.nn.functional.elu(self.proj((x - self.mean) / self.std))
            y, h2 = self.gru(z, h)
            return self.head(y), h2

    return BeatModel()


def load_weights(path: Path | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained torch model (eval mode) and its training configuration.

    Loads with ``weights_only=True`` (no pickled code) and ``strict=True`` (every tensor must
    match the architecture named in the configuration).

    Raises
    ------
    FileNotFoundError
        No weights at ``path`` (default: the shipped ones).
    RuntimeError
        The state dict does not match the model.
    """
    return load_checkpoint(path or WEIGHTS_DIR / WEIGHTS_FILE, lambda model_cfg: build_model(ModelConfig(**model_cfg)))


def member_files(folder: Path | None = None) -> list[Path]:
    """The ensemble's weight files present in ``folder`` (default: the shipped ones), in `MEMBERS` order.

    A folder holding only ``beat_gru.pt`` (e.g. one ``lumen train beat --out DIR``) is an
    ensemble of one.

    Raises
    ------
    FileNotFoundError
        No member's weights in the folder.
    """
    d = folder or WEIGHTS_DIR
    files = [d / name for name in MEMBERS.values() if (d / name).exists()]
    if not files:
        raise FileNotFoundError(f"no beat model weights ({', '.join(MEMBERS.values())}) in {d}")
    return files


def load_ensemble(folder: Path | None = None) -> list[tuple[torch.nn.Module, dict[str, Any]]]:
    """Every member of the ensemble in ``folder`` (default: shipped), each as `load_weights` gives it."""
    return [load_weights(p) for p in member_files(folder)]


def load_checkpoint(wpath: Path, build: Callable[[dict[str, Any]], torch.nn.Module]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load shipped weights and the training configuration stored beside them (``.json``).

    ``build`` makes the model from the configuration's ``model`` section; the state dict is
    loaded with ``weights_only=True`` (no pickled code) and ``strict=True``, and the model is
    put in eval mode. Shared by every lumen model.
    """
    import torch

    cpath = wpath.with_suffix(".json")
    meta: dict[str, Any] = json.loads(cpath.read_text()) if cpath.exists() else {}
    model = build(meta.get("model", {}))
    state = torch.load(wpath, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, meta


def _sigmoid(x: F32, out: F32) -> None:
    np.clip(x, -60.0, 60.0, out=out)  # exp stays finite
    np.negative(out, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)


def _numpy_state(model: torch.nn.Module) -> dict[str, F32]:
    """A model's state dict as float32 numpy arrays (copies)."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}


def _fuse(sds: list[dict[str, F32]]) -> dict[str, F32]:
    """One wide GRU state dict that computes every model of ``sds`` side by side.

    The input standardisation is folded into each projection; the projections are stacked; each
    GRU weight is block-diagonal (gate-major: the reset gates of every model, then the update
    gates, then the candidates), so hidden unit ``j`` of model ``m`` sees only model ``m``'s
    units; the head gives every model's logits one after the other. It is exactly the models
    run separately, with 1/k as many numpy calls per hop for k models. All models must have the same
    shape (`_same_shape`).
    """
    k = len(sds)
    projs = [sd["proj.weight"] / sd["std"][None, :] for sd in sds]
    out: dict[str, F32] = {
        "mean": np.zeros_like(sds[0]["mean"]),
        "std": np.ones_like(sds[0]["std"]),
        "proj.weight": np.concatenate(projs).astype(np.float32),
        "proj.bias": np.concatenate([sd["proj.bias"] - w @ sd["mean"] for sd, w in zip(sds, projs)]).astype(np.float32),
    }
    n = 0
    while f"gru.weight_ih_l{n}" in sds[0]:
        for kind in ("ih", "hh"):
            ws = [sd[f"gru.weight_{kind}_l{n}"] for sd in sds]
            bs = [sd[f"gru.bias_{kind}_l{n}"] for sd in sds]
            h, c = ws[0].shape[0] // 3, ws[0].shape[1]
            w = np.zeros((3 * k * h, k * c), np.float32)
            b = np.zeros(3 * k * h, np.float32)
            for g in range(3):
                for m in range(k):
                    rows = slice((g * k + m) * h, (g * k + m + 1) * h)
                    w[rows, m * c : (m + 1) * c] = ws[m][g * h : (g + 1) * h]
                    b[rows] = bs[m][g * h : (g + 1) * h]
            out[f"gru.weight_{kind}_l{n}"], out[f"gru.bias_{kind}_l{n}"] = w, b
        n += 1
    n_out, h = sds[0]["head.weight"].shape
    head = np.zeros((k * n_out, k * h), np.float32)
    for m, sd in enumerate(sds):
        head[m * n_out : (m + 1) * n_out, m * h : (m + 1) * h] = sd["head.weight"]
    out["head.weight"], out["head.bias"] = head, np.concatenate([sd["head.bias"] for sd in sds]).astype(np.float32)
    return out


def _same_shape(sds: list[dict[str, F32]]) -> bool:
    return len({tuple((key, v.shape) for key, v in sorted(sd.items())) for sd in sds}) == 1


class _GRUMember:
    """A trained model (or several fused by `_fuse`) run one hop at a time: weights and GRU state."""

    def __init__(self, sd: dict[str, F32]) -> None:
        self.inv_std = (1.0 / sd["std"]).astype(np.float32)
        self.mean = sd["mean"]
        self.w_proj, self.b_proj = np.ascontiguousarray(sd["proj.weight"]), sd["proj.bias"]
        self.layers: list[tuple[F32, F32, F32, F32]] = []
        n = 0
        while f"gru.weight_ih_l{n}" in sd:
            self.layers.append((np.ascontiguousarray(sd[f"gru.weight_ih_l{n}"]), sd[f"gru.bias_ih_l{n}"], np.ascontiguousarray(sd[f"gru.weight_hh_l{n}"]), sd[f"gru.bias_hh_l{n}"]))
            n += 1
        self.w_head, self.b_head = np.ascontiguousarray(sd["head.weight"]), sd["head.bias"]
        self._alloc()

    def fork(self) -> _GRUMember:
        """The same (shared, read-only) weights with its own zeroed state."""
        other = _GRUMember.__new__(_GRUMember)
        for name in ("inv_std", "mean", "w_proj", "b_proj", "layers", "w_head", "b_head"):
            setattr(other, name, getattr(self, name))
        other._alloc()
        return other

    def _alloc(self) -> None:
        """The recurrent state and the per-hop work buffers."""
        hdim = self.layers[0][2].shape[1]
        self.h = [np.zeros(hdim, np.float32) for _ in self.layers]
        self._x = np.zeros(self.mean.shape[0], np.float32)
        self._z = np.zeros(self.w_proj.shape[0], np.float32)
        self._zneg = np.zeros_like(self._z)
        self._gi = np.zeros(3 * hdim, np.float32)
        self._gh = np.zeros(3 * hdim, np.float32)
        self._rz = np.zeros(2 * hdim, np.float32)
        self._n = np.zeros(hdim, np.float32)
        self._logit = np.zeros(self.w_head.shape[0], np.float32)
        self.act = np.zeros(self.w_head.shape[0], np.float32)
        self.hdim = hdim

    def reset(self) -> None:
        for h in self.h:
            h[:] = 0.0
        self.act[:] = 0.0

    def step(self, x: F32) -> F32:
        H = self.hdim
        np.subtract(x, self.mean, out=self._x)
        self._x *= self.inv_std
        np.dot(self.w_proj, self._x, out=self._z)
        self._z += self.b_proj
        # ELU: z if z > 0 else exp(z) - 1
        np.minimum(self._z, 0.0, out=self._zneg)
        np.expm1(self._zneg, out=self._zneg)
        np.maximum(self._z, 0.0, out=self._z)
        self._z += self._zneg
        inp = self._z
        for (w_ih, b_ih, w_hh, b_hh), h in zip(self.layers, self.h):
            np.dot(w_ih, inp, out=self._gi)
            self._gi += b_ih
            np.dot(w_hh, h, out=self._gh)
            self._gh += b_hh
            np.add(self._gi[: 2 * H], self._gh[: 2 * H], out=self._rz)
            _sigmoid(self._rz, self._rz)
            np.multiply(self._rz[:H], self._gh[2 * H :], out=self._n)
            self._n += self._gi[2 * H :]
            np.tanh(self._n, out=self._n)
            # h' = (1 - z) * n + z * h = n + z * (h - n)
            h -= self._n
            h *= self._rz[H:]
            h += self._n
            inp = h
        np.dot(self.w_head, inp, out=self._logit)
        self._logit += self.b_head
        _sigmoid(self._logit, self.act)
        return self.act


class StreamingBeatModel:
    """The beat model run one hop at a time in numpy, with its GRU states kept between hops.

    Given several trained models (the shipped ensemble), each runs on the same frontend frame
    and the activations are their mean: models trained on different music make different
    mistakes, and their mean is a cleaner beat signal than either (see ``benchmarks/RESULTS.md``).

    Parameters
    ----------
    models : torch.nn.Module or sequence of them
        Models from `build_model`/`load_weights`/`load_ensemble`, all with the same input
        size; their weights are copied (float32).

    Attributes
    ----------
    act : ndarray, shape (2,), float32
        Beat and downbeat activation (0..1) of the latest hop.
    """

    def __init__(self, models: torch.nn.Module | Sequence[torch.nn.Module]) -> None:
        seq = list(models) if isinstance(models, Sequence) else [models]
        if not seq:
            raise ValueError("StreamingBeatModel needs at least one model")
        sds = [_numpy_state(m) for m in seq]
        shapes = {(sd["mean"].shape[0], sd["head.weight"].shape[0]) for sd in sds}
        if len(shapes) != 1:
            raise ValueError(f"ensemble members differ in input or output size: {sorted(shapes)}")
        self.n_input, self.n_out = shapes.pop()
        self.n_models = len(sds)
        # Models of one shape run as one wide GRU (fewer, larger numpy calls per hop).
        self.members = [_GRUMember(_fuse(sds))] if len(sds) > 1 and _same_shape(sds) else [_GRUMember(sd) for sd in sds]
        self._alloc()

    def _alloc(self) -> None:
        self.act = np.zeros(self.n_out, np.float32)
        self._scale = np.float32(1.0 / self.n_models)

    def fork(self) -> StreamingBeatModel:
        """A model with the same (shared, read-only) weights and its own zeroed state."""
        other = StreamingBeatModel.__new__(StreamingBeatModel)
        other.n_input, other.n_out, other.n_models = self.n_input, self.n_out, self.n_models
        other.members = [m.fork() for m in self.members]
        other._alloc()
        return other

    def reset(self) -> None:
        """Zero the recurrent states."""
        for m in self.members:
            m.reset()
        self.act[:] = 0.0

    def step(self, x: F32) -> F32:
        """Activations for one hop's frontend output ``x`` (shape ``(n_input,)``); returns `act`.

        Real-time safe in the sense of the analysis thread: no allocation, no locks.
        """
        n = self.n_out
        first = True
        for m in self.members:
            a = m.step(x)  # one model's activations, or every fused model's one after the other
            for j in range(0, a.shape[0], n):
                if first:
                    self.act[:] = a[j : j + n]
                    first = False
                else:
                    self.act += a[j : j + n]
        if self.n_models > 1:
            self.act *= self._scale
        return self.act
