"""Training the bar model (`lumen.analysis.beat.bar`) on the beat ensemble's training clips.

Layer: analysis (training; never imported by a live show).

Each member of ``lumen train beat`` builds its clips (frontend frames with exact beats and
downbeats); `bar_sequences` turns every downbeat-labelled clip into beat sequences (the
features of `lumen.analysis.beat.bar.beat_features` and a 0/1 downbeat label per beat), twice
with different augmentation: the live tracker's beats are off by a hop or so (jitter), and it
sometimes runs at twice or half the tempo (then beats between the real ones are never
downbeats, and of every other beat only those on a downbeat are). `train_bar` fits the GRU
(binary cross-entropy per beat, a tenth of the sequences held out to keep the best epoch).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lumen.analysis.beat.bar import BAR_WEIGHTS_FILE, N_FEATURES, beat_features, build_bar_net

__all__ = ["BarTrainConfig", "bar_data_file", "bar_sequences", "load_sequences", "save_sequences", "train_bar"]

F32 = npt.NDArray[np.float32]
Sequences = list[tuple[F32, F32]]

#: Clip kinds held out of training (they are the beat members' validation and the development set's pieces).
HELD_OUT = ("wad-held-out:", "files-held-out:")


@dataclass(frozen=True)
class BarTrainConfig:
    """How the shipped bar model was trained."""

    seed: int = 0
    n_hidden: int = 32
    epochs: int = 20
    batch: int = 32
    lr: float = 2e-3
    #: Augmented passes over each clip.
    passes: int = 2
    #: Share of sequences at twice / half the real tempo.
    p_double: float = 0.2
    p_half: float = 0.1
    #: Standard deviation of the beat positions' jitter, hops.
    jitter_hops: float = 1.0


def _clip_sequence(x: F32, y: npt.NDArray[Any], cfg: BarTrainConfig, rng: np.random.Generator) -> tuple[F32, F32] | None:
    yb = np.asarray(y, np.float32)
    beat_hops = np.flatnonzero(yb[:, 0] == 1.0)
    down = set(np.flatnonzero(yb[:, 1] == 1.0).tolist())
    if beat_hops.size < 6 or not down:
        return None
    t = beat_hops.astype(np.float64)
    label = np.array([h in down for h in beat_hops], np.float32)
    r = rng.random()
    if r < cfg.p_double:
        t2 = np.empty(2 * t.size - 1)
        t2[0::2], t2[1::2] = t, 0.5 * (t[:-1] + t[1:])
        l2 = np.zeros(t2.size, np.float32)
        l2[0::2] = label
        t, label = t2, l2
    elif r < cfg.p_double + cfg.p_half:
        k = int(rng.integers(0, 2))
        t, label = t[k::2], label[k::2]
    if t.size < 3:
        return None
    hops = np.clip(np.round(t + rng.normal(0.0, cfg.jitter_hops, t.size)).astype(np.int64), 0, x.shape[0] - 1)
    hops = np.maximum.accumulate(hops)
    gaps = np.diff(hops)
    intervals = np.concatenate([gaps, gaps[-1:]]).clip(2, None)
    return beat_features(x, hops, intervals), label


def bar_sequences(clips: Sequence[Any], seed: int, cfg: BarTrainConfig | None = None) -> Sequences:
    """Training sequences from beat-training clips (objects with ``x``, ``y``, ``kind``, ``has_downbeats``).

    Clips without downbeat labels and held-out clips are skipped. A pure function of its arguments.
    """
    c = cfg or BarTrainConfig()
    rng = np.random.default_rng([seed, 0xBA2])
    out: Sequences = []
    for clip in clips:
        if not clip.has_downbeats or clip.kind.startswith(HELD_OUT):
            continue
        for _ in range(c.passes):
            s = _clip_sequence(clip.x, clip.y, c, rng)
            if s is not None:
                out.append(s)
    return out


def bar_data_file(out_dir: Path, member: str) -> Path:
    """Where a member's run leaves its bar sequences for `train_bar` (removed after)."""
    return out_dir / f".bar-data-{member}.npz"


def save_sequences(path: Path, seqs: Sequences) -> None:
    """Write sequences to one ``.npz`` (features, labels, lengths)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(lab) for _f, lab in seqs], np.int64)
    feats = np.concatenate([f for f, _ in seqs]) if seqs else np.zeros((0, N_FEATURES), np.float32)
    labels = np.concatenate([lab for _, lab in seqs]) if seqs else np.zeros(0, np.float32)
    np.savez(path, features=feats.astype(np.float16), labels=labels.astype(np.uint8), lengths=lengths)


def load_sequences(path: Path) -> Sequences:
    """The sequences `save_sequences` wrote."""
    with np.load(path) as z:
        feats, labels, lengths = z["features"].astype(np.float32), z["labels"].astype(np.float32), z["lengths"]
    ends = np.cumsum(lengths)
    return [(feats[e - n : e], labels[e - n : e]) for n, e in zip(lengths, ends)]


def train_bar(
    seqs: Sequences,
    out_dir: Path,
    cfg: BarTrainConfig | None = None,
    *,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    sources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit the bar model on ``seqs`` and write ``bar_gru.pt`` and its ``.json`` into ``out_dir``.

    Returns the metadata written (losses, sizes, time).
    """
    import json

    import torch

    c = cfg or BarTrainConfig()
    if len(seqs) < 2:
        raise ValueError(f"the bar model needs at least 2 sequences of beats with downbeats, got {len(seqs)}")
    t0 = time.perf_counter()
    torch.manual_seed(c.seed)
    rng = np.random.default_rng(c.seed)
    allf = np.concatenate([f for f, _ in seqs])
    net = build_bar_net({"n_hidden": c.n_hidden})
    sd = net.state_dict()
    sd["mean"].copy_(torch.from_numpy(allf.mean(axis=0)))
    sd["std"].copy_(torch.from_numpy(allf.std(axis=0) + 1e-3))
    del allf
    order = rng.permutation(len(seqs))
    n_val = max(1, len(seqs) // 10)
    val, train = order[:n_val], order[n_val:]
    steps_per_epoch = (len(train) + c.batch - 1) // c.batch
    opt = torch.optim.Adam(net.parameters(), c.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, c.lr, total_steps=c.epochs * steps_per_epoch)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")

    def batch(ids: npt.NDArray[np.int64]) -> tuple[Any, Any, Any]:
        n_t = max(len(seqs[i][1]) for i in ids)
        f = np.zeros((len(ids), n_t, N_FEATURES), np.float32)
        lab = np.zeros((len(ids), n_t), np.float32)
        m = np.zeros((len(ids), n_t), np.float32)
        for j, i in enumerate(ids):
            n = len(seqs[i][1])
            f[j, :n], lab[j, :n], m[j, :n] = seqs[i][0], seqs[i][1], 1.0
        return torch.from_numpy(f), torch.from_numpy(lab), torch.from_numpy(m)

    def loss_of(ids: npt.NDArray[np.int64]) -> Any:
        f, lab, m = batch(ids)
        return (loss_fn(net(f), lab) * m).sum() / m.sum()

    best = (float("inf"), {k: v.clone() for k, v in net.state_dict().items()}, -1)
    history = []
    for epoch in range(c.epochs):
        rng.shuffle(train)
        net.train()
        total = 0.0
        for k in range(steps_per_epoch):
            loss = loss_of(train[k * c.batch : (k + 1) * c.batch])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.item())
        net.eval()
        with torch.inference_mode():
            vl = float(np.mean([float(loss_of(val[k : k + 256])) for k in range(0, len(val), 256)]))
        history.append((round(total / steps_per_epoch, 5), round(vl, 5)))
        if vl < best[0]:
            best = (vl, {k: v.clone() for k, v in net.state_dict().items()}, epoch)
        if progress:
            progress(epoch + 1, c.epochs, {"loss": total / steps_per_epoch, "val": vl})
    net.load_state_dict(best[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    wfile = out_dir / BAR_WEIGHTS_FILE
    torch.save(net.state_dict(), wfile)
    labels = np.concatenate([lab for _, lab in seqs])
    meta: dict[str, Any] = {
        "model": {"n_input": N_FEATURES, "n_hidden": c.n_hidden},
        "n_params": sum(int(t.numel()) for t in net.parameters()),
        "train": asdict(c),
        "data": {"sequences": len(seqs), "beats": int(labels.size), "downbeat_share": round(float(labels.mean()), 4), **(sources or {})},
        "loss_val": round(best[0], 5),
        "best_epoch": best[2],
        "history_train_val": history,
        "seconds_total": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    wfile.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
