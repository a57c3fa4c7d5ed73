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
downbeat. lumen ships an ensemble of three such models trained on different music (`MEMBERS`:
"gm" on generated General MIDI pieces and dance tracks, "wad" also on freedoom's game music,
"sf" on other pieces of both kinds, most of them rendered with other soundfonts);
the tracker uses the geometric mean of their activations. Training is `lumen.analysis.train.beat`; the
shipped weights are in ``weights/`` beside this file, each member's training configuration in
a JSON file next to its weights.

Live inference runs compiled kernels (numba, `lumen.rt.jit`; `StreamingBeatModel`): the members'
weights, copied from the strictly loaded torch state dicts, are stacked, and each hop is one
kernel call per layer for all members on preallocated state, without the GIL. It is checked to
match the torch model, and ``benchmarks/beat_accuracy.py`` measures it against running the torch
modules per hop under ``inference_mode`` with one thread.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import scipy.fft

from lumen.analysis.base import AnalysisSpec
from lumen.rt.jit import jit

if TYPE_CHECKING:
    import torch

__all__ = [
    "BandRuns",
    "N_INPUT",
    "N_MELS",
    "WEIGHTS_DIR",
    "BeatFrontend",
    "ModelConfig",
    "StreamingBeatModel",
    "MEMBERS",
    "band_sum",
    "build_model",
    "load_ensemble",
    "load_weights",
    "member_file",
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
#: Floor of each member's activations before the ensemble's geometric mean: one member's near
#: zero can veto a hop only so far (``ACT_FLOOR ** (1 / n_models)`` of the others).
ACT_FLOOR: Final[float] = 1e-4

#: Where the shipped weights live.
WEIGHTS_DIR: Final[Path] = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE: Final[str] = "beat_gru.pt"
CONFIG_FILE: Final[str] = "beat_gru.json"
#: The shipped ensemble, member name -> weights file in `WEIGHTS_DIR` (each with its training
#: configuration in the ``.json`` beside it): "gm" learnt from generated General MIDI pieces
#: and dance tracks, "wad" also from freedoom's game music, "sf" from other such pieces, 60 % of
#: them rendered with the TimGM6mb or MuseScore General soundfonts. `lumen train beat --member NAME`
#: trains one (`lumen.analysis.train.beat.MEMBER_CONFIGS`).
MEMBERS: Final[dict[str, str]] = {"gm": WEIGHTS_FILE, "wad": "beat_gru_wad.pt", "sf": "beat_gru_sf.pt"}
#: The package's own weights folder (`WEIGHTS_DIR` may be pointed elsewhere by a benchmark).
_PACKAGE_WEIGHTS: Final[Path] = WEIGHTS_DIR.resolve()

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


class BandRuns:
    """A band matrix (rows of weights over FFT bins, like `mel_matrix`) kept as each row's run of
    bins from its first to its last nonzero weight, applied per hop by a compiled kernel: a
    triangular band touches a few bins, so this skips the zeros of a dense product.

    Parameters
    ----------
    w : ndarray, shape (n_bands, n_bins)
        Rows with at least one nonzero weight.
    """

    def __init__(self, w: npt.NDArray[np.floating[Any]]) -> None:
        nz = [np.flatnonzero(row) for row in w]
        self.lo = np.array([int(b[0]) for b in nz], dtype=np.int64)
        self.hi = np.array([int(b[-1]) + 1 for b in nz], dtype=np.int64)
        self.w = np.zeros((w.shape[0], int((self.hi - self.lo).max())), dtype=np.float32)
        for m in range(w.shape[0]):
            self.w[m, : self.hi[m] - self.lo[m]] = w[m, self.lo[m] : self.hi[m]]
        self.apply(np.zeros(w.shape[1], np.float32), np.zeros(w.shape[0], np.float32))  # compiles (or loads) the kernel now

    def apply(self, x: F32, out: F32) -> F32:
        """``out = w @ x`` (float32, no allocation); returns ``out``."""
        _runs_dot(x, self.lo, self.hi, self.w, out)
        return out


@jit
def band_sum(x: F32, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64], w: F32, m: int) -> float:  # pragma: no cover
    """Band ``m`` of a `BandRuns` (``lo``, ``hi``, ``w``) applied to ``x``: for the kernels that use one."""
    acc = 0.0
    for b in range(lo[m], hi[m]):
        acc += w[m, b - lo[m]] * x[b]
    return acc


@jit
def _runs_dot(x: F32, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64], w: F32, out: F32) -> None:  # pragma: no cover
    for m in range(lo.shape[0]):
        out[m] = band_sum(x, lo, hi, w, m)


@jit
def _logmel_flux(mag: F32, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64], w: F32, gain: float, prev: F32, out: F32) -> None:  # pragma: no cover
    """``out = [log10(1 + gain * mel @ mag), max(0, that - prev)]``; ``prev`` becomes the log-mel.

    Band ``m`` weighs bins ``lo[m]:hi[m]`` by ``w[m, :hi[m] - lo[m]]`` (the mel matrix's nonzero run).
    """
    n = lo.shape[0]
    for m in range(n):
        v = math.log10(1.0 + gain * band_sum(mag, lo, hi, w, m))
        out[m] = v
        out[n + m] = max(v - prev[m], 0.0)
        prev[m] = v


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
        self._runs = BandRuns(self.mel)
        # |rfft| of a Hann-windowed full-scale sine peaks at sum(window) / 2.
        self.scale = np.float32(2.0 / float(np.sum(np.hanning(spec.n_fft))))
        self.out = np.zeros(2 * n_mels, dtype=np.float32)
        self._logmel = self.out[:n_mels]
        self._flux = self.out[n_mels:]
        self._prev = np.zeros(n_mels, dtype=np.float32)
        self._gain = float(self.scale) * LOG_MUL
        self.frame(np.zeros(self.mel.shape[1], np.float32))  # compiles (or loads) the kernel now
        self.reset()

    def frame(self, mag: F32) -> F32:
        """The model input for one hop from its magnitude spectrum (shape ``(n_fft//2+1,)``).

        Returns `out` (shape ``(2 * n_mels,)``, float32), overwritten by the next call. Allocates
        nothing.
        """
        r = self._runs
        _logmel_flux(mag, r.lo, r.hi, r.w, self._gain, self._prev, self.out)
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
            mag = np.abs(scipy.fft.rfft(padded[idx] * win, axis=1))  # float32 throughout, as the live chain
            mel = mag @ self.mel.T
            logmel = np.log1p(mel * (self.scale * np.float32(LOG_MUL))) * np.float32(1.0 / np.log(10.0))
            out[s:e, :nm] = logmel
            flux = np.diff(np.concatenate([prev[None, :], logmel]), axis=0)
            out[s:e, nm:] = np.maximum(flux, 0.0)
            prev = logmel[-1]
        return out


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the beat model (stored with the weights).

    ``arch`` "gru": ``Linear(n_input, n_proj) -> ELU -> GRU(n_proj, n_hidden) x n_layers ->
    Linear(n_hidden, n_out)``. ``arch`` "tcn": ``Linear(n_input, n_channels) -> ELU``, then one
    residual causal convolution per entry of ``dilations`` (``h += elu(conv(h))``, ``kernel``
    taps spaced by the dilation, looking only back in time), then ``Linear(n_channels, n_out)``.
    A TCN sees ``1 + (kernel - 1) * sum(dilations)`` hops of the past; it trains several times
    faster than a GRU of the same size because every hop of an excerpt is computed at once.
    """

    n_input: int = N_INPUT
    n_proj: int = 64
    n_hidden: int = 80
    n_layers: int = 2
    n_out: int = 2
    arch: str = "gru"
    n_channels: int = 48
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    kernel: int = 3
    dropout: float = 0.0  # TCN only, training only: dropout on each convolution's output

    def __post_init__(self) -> None:
        if self.arch not in ("gru", "tcn"):
            raise ValueError(f"unknown beat model arch {self.arch!r} (gru or tcn)")
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))  # JSON gives a list
        if self.arch == "tcn" and (not self.dilations or min(self.dilations) < 1 or self.kernel < 2):
            raise ValueError(f"a TCN needs dilations >= 1 and kernel >= 2, got {self.dilations} and {self.kernel}")

    @property
    def receptive_field(self) -> int:
        """Hops of input one output depends on (a GRU's is unbounded: 0)."""
        return 1 + (self.kernel - 1) * sum(self.dilations) if self.arch == "tcn" else 0


_STANDARDIZED: list[type] = []


def standardized_module() -> type:
    """The base class of lumen's torch models (built on first use, so importing lumen needs no torch).

    ``Base(n_input)`` registers the ``mean`` and ``std`` buffers (training sets them from its
    data; they are saved with the weights) and ``standardize(x)`` returns ``(x - mean) / std``.
    """
    if not _STANDARDIZED:
        import torch
        from torch import nn

        class Standardized(nn.Module):
            mean: torch.Tensor
            std: torch.Tensor

            def __init__(self, n_input: int) -> None:
                super().__init__()
                self.register_buffer("mean", torch.zeros(n_input))
                self.register_buffer("std", torch.ones(n_input))

            def standardize(self, x: torch.Tensor) -> torch.Tensor:
                return (x - self.mean) / self.std

        _STANDARDIZED.append(Standardized)
    return _STANDARDIZED[0]


def build_model(cfg: ModelConfig | None = None) -> torch.nn.Module:
    """A fresh (untrained) torch beat model.

    ``forward(x, h=None) -> (logits, h)`` with ``x`` of shape ``(batch, time, n_input)`` and
    logits of shape ``(batch, time, 2)`` (beat, downbeat). Inputs are standardised inside the
    model with the ``mean``/``std`` buffers, which training sets from its data.
    """
    import torch
    from torch import nn

    c = cfg or ModelConfig()

    class BeatModel(standardized_module()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(c.n_input)
            self.proj = nn.Linear(c.n_input, c.n_proj)
            self.gru = nn.GRU(c.n_proj, c.n_hidden, c.n_layers, batch_first=True)
            self.head = nn.Linear(c.n_hidden, c.n_out)

        def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
            z = torch.nn.functional.elu(self.proj(self.standardize(x)))
            y, h2 = self.gru(z, h)
            return self.head(y), h2

    class BeatTCN(standardized_module()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(c.n_input)
            self.proj = nn.Linear(c.n_input, c.n_channels)
            self.convs = nn.ModuleList(nn.Conv1d(c.n_channels, c.n_channels, c.kernel, dilation=d) for d in c.dilations)
            self.head = nn.Linear(c.n_channels, c.n_out)

        def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
            if h is not None:
                raise ValueError("a TCN keeps no state between calls: pass the whole signal")
            z = torch.nn.functional.elu(self.proj(self.standardize(x))).transpose(1, 2)
            for conv, d in zip(self.convs, c.dilations):
                # Left padding only: hop t sees hops t, t - d, ..., never the future.
                y = torch.nn.functional.elu(conv(torch.nn.functional.pad(z, ((c.kernel - 1) * d, 0))))
                z = z + (torch.nn.functional.dropout(y, c.dropout, self.training) if c.dropout > 0.0 else y)
            return self.head(z.transpose(1, 2)), None

    return BeatTCN() if c.arch == "tcn" else BeatModel()


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


def member_file(name: str) -> str:
    """The weights file name of ensemble member ``name`` (``beat_gru_<name>.pt`` for a candidate not in `MEMBERS`)."""
    return MEMBERS.get(name, f"beat_gru_{name}.pt")


def member_files(folder: Path | None = None) -> list[Path]:
    """The ensemble's weight files present in ``folder`` (default: `WEIGHTS_DIR`), in `MEMBERS` order.

    A folder holding only ``beat_gru.pt`` (e.g. one ``lumen train beat --out DIR``) is an
    ensemble of one. A folder other than the package's own may also hold candidate members
    (``beat_gru_<name>.pt`` for a name not in `MEMBERS`, e.g. from ``lumen train beat --member
    band``): they join the ensemble after the members, in name order, so any combination can be
    scored (``benchmarks/beat_accuracy.py --weights DIR``).

    Raises
    ------
    FileNotFoundError
        No member's weights in the folder.
    """
    d = folder or WEIGHTS_DIR
    files = [d / name for name in MEMBERS.values() if (d / name).exists()]
    if d.resolve() != _PACKAGE_WEIGHTS:
        files += sorted(p for p in d.glob("beat_gru_*.pt") if p.name not in MEMBERS.values())
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


def _numpy_state(model: torch.nn.Module) -> dict[str, F32]:
    """A model's state dict as float32 numpy arrays (copies); a TCN's dilations as ``"dilations"``."""
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    convs = getattr(model, "convs", None)
    if convs is not None:
        sd["dilations"] = np.array([conv.dilation[0] for conv in convs], np.float32)
    return sd


def _shape_key(sd: dict[str, F32]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    key = tuple((k, v.shape) for k, v in sorted(sd.items()))
    if "dilations" in sd:  # TCNs stack only with TCNs of the same dilations
        key += (("dilations", tuple(int(d) for d in sd["dilations"])),)
    return key


# The per-hop kernels, compiled by numba (cached on disk, so a process compiles them once per
# machine). They run without the GIL, so the audio thread is never kept waiting by them. Float
# sums may be reordered (vectorised), so results match torch to about 1e-6, not bitwise.
@jit
def _sigmoid(v: float) -> float:  # pragma: no cover - compiled
    return 1.0 / (1.0 + math.exp(-min(max(v, -60.0), 60.0)))  # exp stays finite


@jit
def _proj_elu(w: F32, b: F32, x: F32, out: F32) -> None:  # pragma: no cover - compiled
    """``out[m] = elu(w[m] @ x + b[m])`` for each stacked model ``m``."""
    k, p_n, i_n = w.shape
    for m in range(k):
        for p in range(p_n):
            acc = b[m, p]
            for i in range(i_n):
                acc += w[m, p, i] * x[i]
            out[m, p] = acc if acc > 0.0 else math.expm1(acc)


@jit
def _gru_layer(w_ih: F32, b_ih: F32, w_hh: F32, b_hh: F32, x: F32, h: F32, h_new: F32) -> None:  # pragma: no cover
    """One GRU step (torch's gate order r, z, n) of each stacked model; updates ``h`` in place."""
    k, h3, c_n = w_ih.shape
    hd = h3 // 3
    for m in range(k):
        for j in range(hd):
            r = b_ih[m, j] + b_hh[m, j]
            z = b_ih[m, hd + j] + b_hh[m, hd + j]
            ni = b_ih[m, 2 * hd + j]
            nh = b_hh[m, 2 * hd + j]
            for c in range(c_n):
                xc = x[m, c]
                r += w_ih[m, j, c] * xc
                z += w_ih[m, hd + j, c] * xc
                ni += w_ih[m, 2 * hd + j, c] * xc
            for c in range(hd):
                hc = h[m, c]
                r += w_hh[m, j, c] * hc
                z += w_hh[m, hd + j, c] * hc
                nh += w_hh[m, 2 * hd + j, c] * hc
            r = _sigmoid(r)
            z = _sigmoid(z)
            n = math.tanh(ni + r * nh)
            h_new[m, j] = n + z * (h[m, j] - n)
        for j in range(hd):
            h[m, j] = h_new[m, j]


@jit
def _head_logsum(w: F32, b: F32, h: F32, out: F32) -> None:  # pragma: no cover - compiled
    """``out += log(max(sigmoid(w[m] @ h[m] + b[m]), ACT_FLOOR))`` summed over the stacked models."""
    k, o_n, h_n = w.shape
    for m in range(k):
        for o in range(o_n):
            acc = b[m, o]
            for c in range(h_n):
                acc += w[m, o, c] * h[m, c]
            out[o] += math.log(max(_sigmoid(acc), ACT_FLOOR))


def _stacked(sds: list[dict[str, F32]], key: str) -> F32:
    """Tensor ``key`` of every model, stacked on a leading axis (float32, contiguous)."""
    return np.ascontiguousarray(np.stack([sd[key] for sd in sds]), dtype=np.float32)


def _folded_projection(sds: list[dict[str, F32]]) -> tuple[F32, F32]:
    """Each model's input projection with its standardisation folded in: ``w (x - mean) / std + b``."""
    w_proj = [sd["proj.weight"] / sd["std"][None, :] for sd in sds]
    w = np.ascontiguousarray(np.stack(w_proj), dtype=np.float32)
    b = np.ascontiguousarray(np.stack([sd["proj.bias"] - wm @ sd["mean"] for sd, wm in zip(sds, w_proj)]), dtype=np.float32)
    return w, b


@jit
def _tcn_layers(
    w: F32, b: F32, ring: F32, off: npt.NDArray[np.int64], dil: npt.NDArray[np.int64], t: int, z: F32, z2: F32, tap: F32
) -> None:  # pragma: no cover - compiled
    """Every residual causal convolution of each stacked TCN for hop ``t``; the result ends in ``z``.

    ``w`` has shape ``(layers, models, out, kernel * in)``: torch's ``(out, in, kernel)`` with the
    taps laid side by side, oldest first; ``b`` ``(layers, models, out)``. ``ring`` ``(models,
    rows, channels)`` holds each layer's recent inputs in its own block of rows, layer ``l``'s
    ``(kernel - 1) * dil[l] + 1`` rows starting at ``off[l]`` (zeros before the first hop, as
    torch's left padding). For each layer: write the input ``z`` into its ring, gather the inputs
    at ``t - (kernel - 1) * d, ..., t - d, t`` into ``tap`` (scratch, ``kernel * channels``),
    ``z2 = z + elu(w @ tap + b)``, then ``z = z2``.
    """
    n_l, k_m, o_n, kc = w.shape
    c_n = z.shape[1]
    k_n = kc // c_n
    for layer in range(n_l):
        d = dil[layer]
        base = off[layer]
        r_n = (k_n - 1) * d + 1
        cur = base + t % r_n
        for m in range(k_m):
            for c in range(c_n):
                ring[m, cur, c] = z[m, c]
            for j in range(k_n):
                row = base + (t - (k_n - 1 - j) * d) % r_n
                for c in range(c_n):
                    tap[j * c_n + c] = ring[m, row, c]
            for o in range(o_n):
                acc = b[layer, m, o]
                for i in range(kc):
                    acc += w[layer, m, o, i] * tap[i]
                z2[m, o] = z[m, o] + (acc if acc > 0.0 else math.expm1(acc))
        for m in range(k_m):
            for c in range(c_n):
                z[m, c] = z2[m, c]


class _TcnStack:
    """TCNs of one shape and dilations, weights stacked on a leading axis, run one hop at a time.

    Each layer keeps a ring of its last ``(kernel - 1) * dilation + 1`` inputs; a hop is one
    kernel call for all layers of all stacked models (no recomputation of the past).
    """

    def __init__(self, sds: list[dict[str, F32]]) -> None:
        self.w_proj, self.b_proj = _folded_projection(sds)
        self.dil = np.array([int(d) for d in sds[0]["dilations"]], np.int64)
        n_l = self.dil.shape[0]
        o_n, c_n, k_n = sds[0]["convs.0.weight"].shape
        # (layers, models, out, in, kernel) -> (layers, models, out, kernel * in): the taps side by side.
        w = np.stack([_stacked(sds, f"convs.{n}.weight") for n in range(n_l)])
        self.w = np.ascontiguousarray(w.transpose(0, 1, 2, 4, 3).reshape(n_l, len(sds), o_n, k_n * c_n))
        self.b = np.ascontiguousarray(np.stack([_stacked(sds, f"convs.{n}.bias") for n in range(n_l)]))
        rows = (k_n - 1) * self.dil + 1
        self.off = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
        self.n_rows = int(rows.sum())
        self.w_head, self.b_head = _stacked(sds, "head.weight"), _stacked(sds, "head.bias")
        self._alloc()

    def fork(self) -> _TcnStack:
        """The same (shared, read-only) weights with its own zeroed state."""
        other = _TcnStack.__new__(_TcnStack)
        for name in ("w_proj", "b_proj", "dil", "w", "b", "off", "n_rows", "w_head", "b_head"):
            setattr(other, name, getattr(self, name))
        other._alloc()
        return other

    def _alloc(self) -> None:
        k, ch = self.b_proj.shape
        self.ring = np.zeros((k, self.n_rows, ch), np.float32)
        self._z = np.zeros((k, ch), np.float32)
        self._z2 = np.zeros((k, ch), np.float32)
        self._tap = np.zeros(self.w.shape[3], np.float32)
        self.t = 0

    def reset(self) -> None:
        self.ring[:] = 0.0
        self.t = 0

    def step_sum(self, x: F32, out: F32) -> None:
        """Adds the log of each model's activations (floored at `ACT_FLOOR`) for frontend frame ``x`` to ``out``."""
        _proj_elu(self.w_proj, self.b_proj, x, self._z)
        _tcn_layers(self.w, self.b, self.ring, self.off, self.dil, self.t, self._z, self._z2, self._tap)
        _head_logsum(self.w_head, self.b_head, self._z, out)
        self.t += 1


class _Stack:
    """Models of one shape, their weights stacked on a leading axis, run one hop at a time."""

    def __init__(self, sds: list[dict[str, F32]]) -> None:
        self.w_proj, self.b_proj = _folded_projection(sds)
        self.layers: list[tuple[F32, F32, F32, F32]] = []
        n = 0
        while f"gru.weight_ih_l{n}" in sds[0]:
            self.layers.append(tuple(_stacked(sds, f"gru.{kind}_l{n}") for kind in ("weight_ih", "bias_ih", "weight_hh", "bias_hh")))  # type: ignore[arg-type]
            n += 1
        self.w_head, self.b_head = _stacked(sds, "head.weight"), _stacked(sds, "head.bias")
        self._alloc()

    def fork(self) -> _Stack:
        """The same (shared, read-only) weights with its own zeroed state."""
        other = _Stack.__new__(_Stack)
        for name in ("w_proj", "b_proj", "layers", "w_head", "b_head"):
            setattr(other, name, getattr(self, name))
        other._alloc()
        return other

    def _alloc(self) -> None:
        """The recurrent state and the per-hop work buffers."""
        k, hd = self.w_head.shape[0], self.layers[0][2].shape[2]
        self.h = [np.zeros((k, hd), np.float32) for _ in self.layers]
        self._z = np.zeros(self.b_proj.shape, np.float32)
        self._h_new = np.zeros((k, hd), np.float32)

    def reset(self) -> None:
        for h in self.h:
            h[:] = 0.0

    def step_sum(self, x: F32, out: F32) -> None:
        """Adds the log of each model's activations (floored at `ACT_FLOOR`) for frontend frame ``x`` to ``out``."""
        _proj_elu(self.w_proj, self.b_proj, x, self._z)
        inp: F32 = self._z
        for (w_ih, b_ih, w_hh, b_hh), h in zip(self.layers, self.h):
            _gru_layer(w_ih, b_ih, w_hh, b_hh, inp, h, self._h_new)
            inp = h
        _head_logsum(self.w_head, self.b_head, inp, out)


class StreamingBeatModel:
    """The beat model run one hop at a time in compiled kernels, its GRU states kept between hops.

    Given several trained models (the shipped ensemble), each runs on the same frontend frame
    and the activations are their geometric mean (each floored at `ACT_FLOOR`): models trained
    on different music make different mistakes, and a beat that all of them hear stands out
    from one that only one hears (on the development set of ``benchmarks/beat_devset.py`` the
    geometric mean scored beat F 0.850 where the arithmetic mean scored 0.842).
    Models of one shape are stacked and run together (one kernel call per layer).

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
        # Models of one shape run stacked: one kernel call per layer for all of them.
        groups: dict[tuple[tuple[str, tuple[int, ...]], ...], list[dict[str, F32]]] = {}
        for sd in sds:
            groups.setdefault(_shape_key(sd), []).append(sd)
        self.members: list[_Stack | _TcnStack] = [_TcnStack(g) if "dilations" in g[0] else _Stack(g) for g in groups.values()]
        self._alloc()
        self.step(np.zeros(self.n_input, np.float32))  # compiles (or loads) the kernels now, not on the first live hop
        self.reset()

    def _alloc(self) -> None:
        self.act = np.zeros(self.n_out, np.float32)
        self._scale = 1.0 / self.n_models

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
        act = self.act
        act[:] = 0.0
        for m in self.members:
            m.step_sum(x, act)
        for o in range(act.shape[0]):
            act[o] = math.exp(float(act[o]) * self._scale)
        return act
