"""The beat model: frontend equivalence, numpy runtime against torch, strict weight loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lumen.analysis.base import AnalysisSpec, HopContext
from lumen.analysis.beat.model import (
    ACT_FLOOR,
    CONFIG_FILE,
    MEMBERS,
    N_INPUT,
    N_MELS,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    BeatFrontend,
    BandRuns,
    StreamingBeatModel,
    ModelConfig,
    build_model,
    load_ensemble,
    load_weights,
    mel_matrix,
    member_files,
)
from lumen.analysis.frontend import Frontend

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000, 96000])
def test_mel_bands_are_normalised_and_never_empty(sr: int) -> None:
    spec = AnalysisSpec.for_rate(sr)
    w = mel_matrix(sr, spec.n_fft)
    assert w.shape == (N_MELS, spec.n_fft // 2 + 1)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("sr", [8000, 48000, 96000])
def test_band_runs_equal_the_dense_product(sr: int, rng: np.random.Generator) -> None:
    spec = AnalysisSpec.for_rate(sr)
    w = mel_matrix(sr, spec.n_fft, 40, 20.0, 16000.0)
    x = rng.uniform(0.0, 2.0, w.shape[1]).astype(np.float32)
    out = np.zeros(w.shape[0], np.float32)
    assert BandRuns(w).apply(x, out) is out
    np.testing.assert_allclose(out, w @ x, rtol=1e-5)


@pytest.mark.parametrize("sr", [22050, 48000])
def test_file_frontend_equals_the_per_hop_frontend(sr: int, rng: np.random.Generator) -> None:
    spec = AnalysisSpec.for_rate(sr)
    x = (rng.standard_normal(sr * 2) * 0.1).astype(np.float32)
    whole = BeatFrontend(spec).frames(x)
    ctx = HopContext(spec)
    fe, live = Frontend(spec), BeatFrontend(spec)
    h = spec.hop_length
    per_hop = np.zeros_like(whole)
    for k in range(whole.shape[0]):
        fe.push(ctx, x[k * h : (k + 1) * h])
        per_hop[k] = live.frame(ctx.mag)
    assert whole.shape == (len(x) // h, N_INPUT)
    np.testing.assert_allclose(whole, per_hop, atol=2e-4)


def test_numpy_runtime_matches_torch(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    model = build_model().eval()
    with torch.no_grad():  # non-trivial standardisation
        model.mean.copy_(torch.from_numpy(rng.uniform(0, 1, N_INPUT).astype(np.float32)))
        model.std.copy_(torch.from_numpy(rng.uniform(0.5, 2, N_INPUT).astype(np.float32)))
    x = rng.standard_normal((1, 400, N_INPUT)).astype(np.float32)
    with torch.inference_mode():
        ref = torch.sigmoid(model(torch.from_numpy(x))[0])[0].numpy()
    sm = StreamingBeatModel(model)
    got = np.stack([sm.step(x[0, k]).copy() for k in range(400)])
    np.testing.assert_allclose(got, ref, atol=1e-5)
    sm.reset()
    np.testing.assert_allclose(sm.step(x[0, 0]), ref[0], atol=1e-5)


def test_shipped_weights_load_strictly_and_are_small() -> None:
    wfile = WEIGHTS_DIR / WEIGHTS_FILE
    assert wfile.stat().st_size < 5 * 1024 * 1024
    model, meta = load_weights()
    if meta["model"].get("arch", "gru") == "tcn":
        assert [conv.dilation[0] for conv in model.convs] == meta["model"]["dilations"]
        assert model.proj.out_features == meta["model"]["n_channels"]
    else:
        assert meta["model"]["n_hidden"] == model.gru.hidden_size
    assert 10_000 <= meta["n_params"] <= 200_000
    assert {"seed", "steps", "n_midi", "n_dance"} <= set(meta["train"])
    cfg = json.loads((WEIGHTS_DIR / CONFIG_FILE).read_text())
    assert cfg == meta


def test_every_ensemble_member_ships_with_its_config_and_all_fit_in_5_mb() -> None:
    files = member_files()
    assert [f.name for f in files] == list(MEMBERS.values())
    assert sum(f.stat().st_size for f in files) < 5 * 1024 * 1024
    members = load_ensemble()
    for f, (model, meta) in zip(files, members):
        assert meta["train"]["member"] == next(k for k, v in MEMBERS.items() if v == f.name)
        assert meta["n_params"] == sum(p.numel() for p in model.parameters())
    assert len({json.dumps(meta["train"], sort_keys=True) for _, meta in members}) == len(members)  # trained differently


@pytest.mark.parametrize("shapes", ["same (one stack)", "different (a stack per shape)"])
def test_the_ensemble_streams_the_geometric_mean_of_its_members(shapes: str, rng: np.random.Generator) -> None:
    torch.manual_seed(1)
    other = ModelConfig() if shapes.startswith("same") else ModelConfig(n_hidden=48, n_layers=1)
    models = [build_model().eval(), build_model(other).eval(), build_model(other).eval()]
    for m in models:
        with torch.no_grad():  # each member standardises its input its own way
            m.mean.copy_(torch.from_numpy(rng.uniform(0, 1, N_INPUT).astype(np.float32)))
            m.std.copy_(torch.from_numpy(rng.uniform(0.5, 2, N_INPUT).astype(np.float32)))
    x = rng.standard_normal((1, 200, N_INPUT)).astype(np.float32)
    with torch.inference_mode():
        each = [torch.sigmoid(m(torch.from_numpy(x))[0])[0].numpy() for m in models]
        ref = np.exp(np.mean([np.log(np.maximum(a, ACT_FLOOR)) for a in each], axis=0))
    ens = StreamingBeatModel(models)
    assert len(ens.members) == (1 if shapes.startswith("same") else 2)
    got = np.stack([ens.step(x[0, k]).copy() for k in range(200)])
    np.testing.assert_allclose(got, ref, atol=1e-5)
    twin = ens.fork()  # shared weights, own state: starts from zero again
    np.testing.assert_allclose(twin.step(x[0, 0]), ref[0], atol=1e-5)


TCN = ModelConfig(arch="tcn", n_channels=16, dilations=(1, 2, 4, 8))


def test_the_tcn_is_causal(rng: np.random.Generator) -> None:
    torch.manual_seed(2)
    model = build_model(TCN).eval()
    x = torch.from_numpy(rng.standard_normal((1, 120, N_INPUT)).astype(np.float32))
    y = x.clone()
    y[0, 80:] += 5.0  # change the future from hop 80 on
    with torch.inference_mode():
        a, b = model(x)[0], model(y)[0]
    torch.testing.assert_close(a[0, :80], b[0, :80])
    assert not torch.allclose(a[0, 80:], b[0, 80:])
    assert TCN.receptive_field == 1 + 2 * (1 + 2 + 4 + 8)


@pytest.mark.parametrize("models", ["two TCNs", "TCNs of two dilations and a GRU"])
def test_tcn_members_stream_like_torch(models: str, rng: np.random.Generator) -> None:
    torch.manual_seed(3)
    cfgs = [TCN, TCN] if models == "two TCNs" else [TCN, ModelConfig(arch="tcn", n_channels=16, dilations=(1, 3, 9, 27)), ModelConfig()]
    ms = [build_model(c).eval() for c in cfgs]
    for m in ms:
        with torch.no_grad():
            m.mean.copy_(torch.from_numpy(rng.uniform(0, 1, N_INPUT).astype(np.float32)))
            m.std.copy_(torch.from_numpy(rng.uniform(0.5, 2, N_INPUT).astype(np.float32)))
    x = rng.standard_normal((1, 250, N_INPUT)).astype(np.float32)  # longer than the receptive fields
    with torch.inference_mode():
        each = [torch.sigmoid(m(torch.from_numpy(x))[0])[0].numpy() for m in ms]
    ref = np.exp(np.mean([np.log(np.maximum(a, ACT_FLOOR)) for a in each], axis=0))
    ens = StreamingBeatModel(ms)
    assert len(ens.members) == (1 if models == "two TCNs" else 3)  # equal dilations stack, others not
    got = np.stack([ens.step(x[0, k]).copy() for k in range(250)])
    np.testing.assert_allclose(got, ref, atol=1e-5)
    ens.reset()  # the rings are cleared: the next hop is a first hop again
    np.testing.assert_allclose(ens.step(x[0, 0]), ref[0], atol=1e-5)
    twin = ens.fork()
    np.testing.assert_allclose(twin.step(x[0, 0]), ref[0], atol=1e-5)


def test_a_tcn_config_survives_json_and_bad_ones_are_refused() -> None:
    from dataclasses import asdict

    back = ModelConfig(**json.loads(json.dumps(asdict(TCN))))
    assert back == TCN and isinstance(back.dilations, tuple)
    with pytest.raises(ValueError, match="arch"):
        ModelConfig(arch="lstm")
    with pytest.raises(ValueError, match="dilations"):
        ModelConfig(arch="tcn", dilations=(0, 1))
    with pytest.raises(ValueError, match="no state"):
        build_model(TCN)(torch.zeros(1, 4, N_INPUT), torch.zeros(1))


def test_members_of_different_input_size_are_refused() -> None:
    with pytest.raises(ValueError, match="input or output size"):
        StreamingBeatModel([build_model(), build_model(ModelConfig(n_input=64))])


def test_a_folder_without_weights_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        member_files(tmp_path)


def test_a_mismatched_state_dict_is_rejected(tmp_path: Path) -> None:
    model, meta = load_weights()
    state = model.state_dict()
    state.pop("head.bias")
    bad = tmp_path / WEIGHTS_FILE
    torch.save(state, bad)
    (tmp_path / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(RuntimeError, match="head.bias"):
        load_weights(bad)


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / WEIGHTS_FILE
    torch.save({"x": object()}, bad)  # not a plain tensor dict
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        load_weights(bad)
