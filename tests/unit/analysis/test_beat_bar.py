"""The bar model: beat-synchronous features, the per-beat GRU (numba = torch), its training and shipped weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lumen.analysis.beat.bar import (  # noqa: E402
    N_FEATURES,
    N_MELS,
    BarModel,
    BeatSync,
    attack_hops,
    beat_features,
    build_bar_net,
    evidence_hops,
    load_bar_net,
)
from lumen.analysis.train.bar import (  # noqa: E402
    BarTrainConfig,
    bar_sequences,
    load_sequences,
    save_sequences,
    train_bar,
)


def test_features_pool_the_beat_span_and_compare_with_the_previous_beat() -> None:
    n = 200
    x = np.zeros((n, 2 * N_MELS), np.float32)
    x[:, :N_MELS] = np.linspace(-2.0, 2.0, N_MELS)  # a fixed spectral tilt
    x[100:, :N_MELS] += 1.0  # louder from hop 100
    hops = np.array([20, 60, 100, 140])
    x[hops, N_MELS + 3] = 8.0  # a strike in band 3 on every beat, nothing between
    feats = beat_features(x, hops, np.full(4, 40))
    assert feats.shape == (4, N_FEATURES) and feats.dtype == np.float32
    shape, attack, flux, change = (feats[:, k * N_MELS : (k + 1) * N_MELS] for k in range(4))
    level = feats[:, 4 * N_MELS]
    np.testing.assert_allclose(shape, np.linspace(-2.0, 2.0, N_MELS)[None].repeat(4, 0), atol=1e-5)  # tilt, level removed
    np.testing.assert_allclose(level, [0.0, 0.0, 1.0, 1.0], atol=1e-5)
    assert np.allclose(attack[:, 3], 8.0 / attack_hops(40)) and np.allclose(np.delete(attack, 3, axis=1), 0.0)
    span = evidence_hops(40) + 2
    assert np.allclose(flux[:, 3], 8.0 / span)
    np.testing.assert_allclose(change[:, 0], [0.0, 0.0, 1.0, 0.0], atol=1e-5)  # the first beat has nothing to compare with


def test_a_beat_that_comes_early_ends_the_span_before_it() -> None:
    x = np.zeros((100, 2 * N_MELS), np.float32)
    x[:, N_MELS] = 1.0
    x[30:, N_MELS] = 5.0
    early = beat_features(x, np.array([10, 30]), np.array([40, 40]))  # the second beat cuts the first's span at hop 30
    assert early[0, 2 * N_MELS] == pytest.approx(1.0)


def test_live_pooling_allocates_nothing_and_matches_the_batch_features(rng: np.random.Generator) -> None:
    x = rng.normal(size=(300, 2 * N_MELS)).astype(np.float32)
    hops = np.array([5, 40, 75, 110, 145, 180, 215])
    iv = np.full(hops.size, 35)
    ref = beat_features(x, hops, iv)
    sync = BeatSync()
    got = []
    pending = -1
    for j in range(x.shape[0]):
        is_beat = j in hops
        if pending >= 0:
            if not is_beat:
                sync.add(x[j])
            pending -= 1
            if pending < 0:
                got.append(sync.features().copy())
        if is_beat:
            if pending >= 0:
                got.append(sync.features().copy())
            sync.beat(x[j], 35)
            pending = evidence_hops(35)
    np.testing.assert_allclose(np.array(got), ref, atol=1e-5)


def test_the_numba_bar_model_matches_torch(rng: np.random.Generator) -> None:
    torch.manual_seed(1)
    net = build_bar_net({"n_hidden": 16})
    sd = net.state_dict()
    sd["mean"].copy_(torch.from_numpy(rng.normal(size=N_FEATURES).astype(np.float32)))
    sd["std"].copy_(torch.from_numpy(rng.uniform(0.5, 2.0, N_FEATURES).astype(np.float32)))
    f = rng.normal(size=(12, N_FEATURES)).astype(np.float32)
    with torch.inference_mode():
        ref = torch.sigmoid(net(torch.from_numpy(f)[None]))[0].numpy()
    live = BarModel(net)
    twin = live.fork()
    got = np.array([live.step(v) for v in f])
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert twin.step(f[0]) == pytest.approx(float(ref[0]), abs=1e-5)  # a fork has its own state
    live.reset()
    assert live.step(f[0]) == pytest.approx(float(ref[0]), abs=1e-5)


@dataclass
class _Clip:
    x: np.ndarray
    y: np.ndarray
    kind: str
    has_downbeats: bool = True


def _clip(rng: np.random.Generator, meter: int, kind: str = "midi:test", n: int = 1500) -> _Clip:
    """Beats every 40 hops; the downbeat has a low strike, the other beats a high one."""
    x = (0.1 * rng.normal(size=(n, 2 * N_MELS))).astype(np.float32)
    y = np.zeros((n, 2), np.float16)
    first = int(rng.integers(0, 40 * meter))
    for k, h in enumerate(range(first % 40, n, 40)):
        down = (h - first) % (40 * meter) == 0
        y[h, 0] = 1.0
        y[h, 1] = 1.0 if down else 0.0
        x[h : h + 3, N_MELS + (2 if down else 40)] += 5.0
    return _Clip(x, y, kind)


def test_sequences_label_downbeats_and_skip_held_out_and_unlabelled_clips(rng: np.random.Generator, tmp_path: Path) -> None:
    clips = [_clip(rng, 4), _clip(rng, 3), _clip(rng, 4, "wad-held-out:x"), _Clip(np.zeros((500, 128), np.float32), np.zeros((500, 2)), "recorded:x", False)]
    cfg = BarTrainConfig(passes=1, p_double=0.0, p_half=0.0)
    seqs = bar_sequences(clips, seed=3, cfg=cfg)
    assert len(seqs) == 2
    for (f, lab), meter in zip(seqs, (4, 3)):
        assert f.shape == (lab.size, N_FEATURES)
        k = np.flatnonzero(lab)
        assert np.all(np.diff(k) == meter)
    assert [s[1].tolist() for s in bar_sequences(clips, seed=3, cfg=cfg)] == [s[1].tolist() for s in seqs]  # pure
    doubled = bar_sequences(clips[:1], seed=3, cfg=BarTrainConfig(passes=1, p_double=1.0))[0][1]
    assert np.all(np.diff(np.flatnonzero(doubled)) == 8)  # between-beats are never downbeats
    save_sequences(tmp_path / "s.npz", seqs)
    back = load_sequences(tmp_path / "s.npz")
    assert [b[1].tolist() for b in back] == [s[1].tolist() for s in seqs]
    np.testing.assert_allclose(back[0][0], seqs[0][0], rtol=1e-3, atol=1e-2)  # stored as float16


@pytest.mark.slow
def test_training_learns_which_beats_start_a_bar(rng: np.random.Generator, tmp_path: Path) -> None:
    clips = [_clip(rng, int(rng.choice([3, 4]))) for _ in range(40)]
    torch.set_num_threads(1)
    cfg = BarTrainConfig(n_hidden=8, epochs=30, lr=1e-2, batch=8, p_double=0.0, p_half=0.0)
    meta = train_bar(bar_sequences(clips, seed=1, cfg=cfg), tmp_path, cfg)
    net, stored = load_bar_net(tmp_path / "bar_gru.pt")
    assert stored["model"] == {"n_input": N_FEATURES, "n_hidden": 8} and meta["loss_val"] < 0.3
    live = BarModel(net)
    test = bar_sequences([_clip(rng, 4) for _ in range(3)], seed=9, cfg=BarTrainConfig(passes=1, p_double=0.0, p_half=0.0))
    for f, lab in test:
        live.reset()
        p = np.array([live.step(v) for v in f])
        assert np.mean((p > 0.5) == (lab > 0.5)) > 0.9


def test_the_shipped_bar_model_loads_strictly_with_its_config() -> None:
    net, meta = load_bar_net()
    assert meta["model"]["n_input"] == N_FEATURES and meta["train"]["seed"] == BarTrainConfig().seed
    assert meta["data"]["members"] == ["gm", "wad", "sf"]
    p = BarModel(net).step(np.zeros(N_FEATURES, np.float32))
    assert 0.0 <= p <= 1.0
    broken = {k: v for k, v in net.state_dict().items() if k != "head.bias"}
    with pytest.raises(RuntimeError):
        build_bar_net(meta["model"]).load_state_dict(broken, strict=True)
