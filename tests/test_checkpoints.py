"""Checkpoints: ferrograd.save / ferrograd.load of flat and nested state, file handling.

Flat state dicts stay plain safetensors files (other readers load them); nested state (the
optimizer's, schedulers', a random generator's) round-trips with its types; writes are atomic,
keep the file's permissions, follow symbolic links; a corrupt file is detected.
"""

from __future__ import annotations

import math
import os
import stat

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn, optim
from ferrograd.optim import lr_scheduler

# ------------------------------------------------------------------------- every layer type


def _layers() -> dict[str, nn.Module]:
    fg.manual_seed(0)
    return {
        "Linear": nn.Linear(3, 2),
        "Conv2d": nn.Conv2d(2, 3, 3, padding=1),
        "MaxPool2d": nn.MaxPool2d(2),
        "AvgPool2d": nn.AvgPool2d(2),
        "Flatten": nn.Flatten(),
        "Dropout": nn.Dropout(0.3),
        "BatchNorm1d": nn.BatchNorm1d(4),
        "BatchNorm2d": nn.BatchNorm2d(3),
        "LayerNorm": nn.LayerNorm([2, 3]),
        "Embedding": nn.Embedding(5, 3, padding_idx=0),
        "RNN": nn.RNN(3, 4, num_layers=2, bidirectional=True),
        "LSTM": nn.LSTM(3, 4, batch_first=True),
        "GRU": nn.GRU(3, 4, num_layers=2),
        "ReLU": nn.ReLU(),
        "Identity": nn.Identity(),
        "Sequential": nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Tanh()),
        "ModuleList": nn.ModuleList([nn.Linear(2, 2), nn.LayerNorm(2)]),
    }


def _perturbed(sd: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Different values of the same names, shapes and dtypes (0-d counters included)."""
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(v.shape) * 10).astype(v.dtype) for k, v in sd.items()}


@pytest.mark.parametrize("name", sorted(_layers()))
def test_every_layer_type_saves_and_reloads_its_own_checkpoint(tmp_path, name):
    layer = _layers()[name]
    state = _perturbed(layer.state_dict(), 1)
    layer.load_state_dict(state)
    path = tmp_path / "layer.safetensors"
    layer.save(path)
    fresh = _layers()[name]
    fresh.load(path)
    got = fresh.state_dict()
    assert list(got) == list(state)
    for k, v in state.items():
        assert got[k].shape == v.shape and got[k].dtype == v.dtype, k
        np.testing.assert_array_equal(got[k], v)


def test_batchnorm_counter_round_trips_as_a_0d_array(tmp_path):
    bn = nn.BatchNorm2d(3)
    bn(fg.tensor(np.ones((2, 3, 2, 2), np.float32)))
    path = tmp_path / "bn.safetensors"
    fg.save(bn.state_dict(), path)
    loaded = fg.load(path)
    assert loaded["num_batches_tracked"].shape == ()
    assert loaded["num_batches_tracked"].dtype == np.int64
    assert int(loaded["num_batches_tracked"]) == 1
    nn.BatchNorm2d(3).load(path)


def test_a_flat_state_dict_is_a_plain_safetensors_file(tmp_path):
    from safetensors.numpy import load_file, save_file

    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    path = tmp_path / "m.safetensors"
    model.save(path)
    plain = load_file(str(path))
    assert set(plain) == set(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(plain[k], v)
    # written by another tool: loads as a flat mapping, names sorted
    other = tmp_path / "other.safetensors"
    save_file({"b": np.ones(2, np.float32), "a": np.zeros((), np.int32)}, str(other))
    loaded = fg.load(other)
    assert list(loaded) == ["a", "b"] and loaded["a"].shape == ()


def test_flat_load_keeps_the_saved_order_and_gives_writeable_arrays(tmp_path):
    path = tmp_path / "w.safetensors"
    fg.save({"z": np.ones(2), "a": np.zeros(3), "m": np.array(1.5)}, path)
    loaded = fg.load(path)
    assert type(loaded).__name__ == "OrderedDict"
    assert list(loaded) == ["z", "a", "m"]
    loaded["a"] += 1  # not a read-only view of the file's bytes
    assert loaded["a"].tolist() == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------------- nested state


def _same(a, b, where="state"):
    """Exact equality of nested state, types included (tuples may not become lists here)."""
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype, where
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def test_nested_values_round_trip_with_their_types(tmp_path):
    state = {
        "ints": {0: np.arange(3), 7: np.array(2.5, np.float32), -1: None},
        "scalars": [1, 2.5, True, False, float("nan"), float("inf"), -math.inf, "text", None],
        "big": [2**127 + 1, -(2**100), 0],
        "numpy": (np.float32(1.25), np.int64(-3), np.bool_(True), np.float64(0.1), np.uint8(7)),
        "arrays": [np.ones((2, 0)), np.zeros((), bool), np.arange(4, dtype=np.uint64) * 2**62],
        "dtypes": {
            dt: np.arange(6).reshape(2, 3).astype(dt)
            for dt in ("float16", "float32", "float64", "int8", "int16", "int32", "uint16")
        },
        "complex": np.array([1 + 2j, np.nan - 1j, complex(0, math.inf)]),
        "complex64": np.array(3 - 4j, np.complex64),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "big_endian": np.arange(3.0).astype(">f8"),
        "tensor": fg.tensor(np.ones(2, np.float32)),
        "empty": {},
        "empty_list": [],
        "": "empty key",
        "a.b": np.ones(1),
        "a": {"b": np.zeros(1)},  # the same dotted path as "a.b": the names must not clash
    }
    path = tmp_path / "nested.safetensors"
    fg.save(state, path)
    loaded = fg.load(path)
    want = dict(state)
    want["tensor"] = state["tensor"].data
    want["strided"] = np.ascontiguousarray(state["strided"])
    want["big_endian"] = state["big_endian"].astype("<f8")
    _same(loaded, want)
    assert loaded["numpy"][0].dtype == np.float32 and type(loaded["scalars"][1]) is float
    assert loaded["big"][0] == 2**127 + 1
    assert loaded["complex"].dtype == np.complex128
    np.testing.assert_array_equal(loaded["complex"], state["complex"])


def test_lists_of_arrays_and_tuples_survive(tmp_path):
    state = {"layers": [np.ones(2), np.zeros(3)], "pair": (np.arange(2), "x"), "n": 3}
    fg.save(state, tmp_path / "s.safetensors")
    loaded = fg.load(tmp_path / "s.safetensors")
    _same(loaded, state)


def test_random_generator_state_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    rng.standard_normal(5)
    state = rng.bit_generator.state
    fg.save({"rng": state}, tmp_path / "r.safetensors")
    loaded = fg.load(tmp_path / "r.safetensors")["rng"]
    assert loaded == state
    other = np.random.default_rng(123)
    other.bit_generator.state = loaded
    np.testing.assert_array_equal(other.standard_normal(4), rng.standard_normal(4))


OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "Adam": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps, lr=1e-2),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=1e-3),
}


def _train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = fg.tensor(rng.standard_normal((8, 3)))
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_round_trips_and_training_continues_bit_for_bit(tmp_path, name):
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    opt = OPTIMIZERS[name]([
        {"params": list(model[0].parameters())},
        {"params": list(model[2].parameters()), "lr": 0.05},
    ])  # fmt: skip
    _train(model, opt, 3, seed=1)
    path = tmp_path / "ckpt.safetensors"
    fg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    loaded = fg.load(path)
    _same(loaded["optimizer"], opt.state_dict())
    assert loaded["epoch"] == 3

    fg.manual_seed(5)
    model2 = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    model2.load_state_dict(loaded["model"])
    opt2 = OPTIMIZERS[name]([
        {"params": list(model2[0].parameters())},
        {"params": list(model2[2].parameters()), "lr": 0.05},
    ])  # fmt: skip
    opt2.load_state_dict(loaded["optimizer"])
    _train(model, opt, 4, seed=2)
    _train(model2, opt2, 4, seed=2)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert p.data.tobytes() == q.data.tobytes()


SCHEDULERS = {
    "StepLR": lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
    "MultiStepLR": lambda o: lr_scheduler.MultiStepLR(o, milestones=[1, 3, 3], gamma=0.5),
    "ExponentialLR": lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=1e-3),
    "LinearLR": lambda o: lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
    "OneCycleLR": lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=12),
    "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=0, factor=0.5),
}


def _advance(sched, opt, epochs, start):
    lrs = []
    for e in range(start, start + epochs):
        opt.step()
        if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
            sched.step(1.0 / (1 + e % 3))
        else:
            sched.step()
        lrs.append(sched.get_last_lr())
        if not isinstance(sched, lr_scheduler.ReduceLROnPlateau):
            lrs.append(sched._get_closed_form_lr() if hasattr(sched, "_get_closed_form_lr") else 0)
    return lrs


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_state_round_trips_and_the_schedule_continues(tmp_path, name):
    def build():
        opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.2, momentum=0.9)
        return opt, SCHEDULERS[name](opt)

    opt, sched = build()
    _advance(sched, opt, 3, 0)
    path = tmp_path / "s.safetensors"
    fg.save({"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}, path)
    loaded = fg.load(path)
    want = sched.state_dict()
    if "milestones" in want:
        want["milestones"] = dict(want["milestones"])
    _same(loaded["scheduler"], want)

    opt2, sched2 = build()
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    assert _advance(sched2, opt2, 6, 3) == _advance(sched, opt, 6, 3)


# ------------------------------------------------------------------------- refused state


def _good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    fg.save({"w": np.arange(3.0)}, path)
    return path, path.read_bytes()


@pytest.mark.parametrize(
    "state, error, match",
    [
        ({"__metadata__": {"a": "b"}}, fg.ArgumentError, "reserved by the safetensors"),
        ({"__metadata__": np.ones(2)}, fg.ArgumentError, "reserved"),
        ({"w": np.array([object()])}, fg.DTypeError, r"state\['w'\] is an array of dtype object"),
        ({"a": {"b": [1, {2.5: np.ones(1)}]}}, fg.DTypeError, r"state\['a'\]\['b'\]\[1\].*key"),
        ({"a": {True: 1}}, fg.DTypeError, "key True"),
        ({"a": {1, 2}}, fg.DTypeError, r"state\['a'\] is a set"),
        ({"a": lambda: 0}, fg.DTypeError, "function"),
        ({"a": np.array(["x"])}, fg.DTypeError, "dtype <U1"),
        ({"a": np.ones(2, np.longdouble)}, fg.DTypeError, "float128"),
        ([np.ones(2)], fg.DTypeError, "must be a mapping"),
        (np.ones(2), fg.DTypeError, "must be a mapping"),
    ],
)
def test_bad_state_is_refused_before_anything_is_written(tmp_path, state, error, match):
    path, before = _good_file(tmp_path)
    with pytest.raises(error, match=match):
        fg.save(state, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["good.safetensors"]


def test_a_state_that_contains_itself_is_refused(tmp_path):
    state: dict = {"a": []}
    state["a"].append(state)
    with pytest.raises(fg.ArgumentError, match="contains itself"):
        fg.save(state, tmp_path / "x.safetensors")
    assert not os.listdir(tmp_path)


def test_metadata_is_checked_and_kept(tmp_path):
    path, before = _good_file(tmp_path)
    with pytest.raises(fg.DTypeError, match="metadata"):
        fg.save({"w": np.ones(1)}, path, metadata={"a": 1})
    with pytest.raises(fg.ArgumentError, match="reserved"):
        fg.save({"w": np.ones(1)}, path, metadata={"ferrograd.tree": "x"})
    assert path.read_bytes() == before
    from safetensors import safe_open

    fg.save({"w": np.ones(1)}, path, metadata={"author": "me"})
    with safe_open(str(path), framework="np") as f:
        assert f.metadata()["author"] == "me"


# ------------------------------------------------------------------------- files


def test_saving_keeps_the_permissions_of_an_existing_file(tmp_path):
    path, _ = _good_file(tmp_path)
    os.chmod(path, 0o640)
    fg.save({"w": np.ones(2)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    os.chmod(path, 0o604)
    fg.save({"w": np.ones(2)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o022)
    try:
        fg.save({"w": np.ones(2)}, tmp_path / "a.safetensors")
        os.umask(0o077)
        fg.save({"w": np.ones(2)}, tmp_path / "b.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.safetensors").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "b.safetensors").st_mode) == 0o600


def test_saving_through_a_symlink_replaces_its_target(tmp_path):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    target = real_dir / "real.safetensors"
    fg.save({"w": np.zeros(2)}, target)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(target)
    fg.save({"w": np.ones(2)}, link)
    assert link.is_symlink()
    np.testing.assert_array_equal(fg.load(target)["w"], np.ones(2))
    assert sorted(os.listdir(real_dir)) == ["real.safetensors"]
    # a dangling link gets its target created
    dangling = tmp_path / "new.safetensors"
    dangling.symlink_to(real_dir / "created.safetensors")
    fg.save({"w": np.ones(3)}, dangling)
    assert dangling.is_symlink() and (real_dir / "created.safetensors").is_file()


def test_a_file_name_near_the_length_limit_saves(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    path = tmp_path / ("c" * (limit - len(".safetensors")) + ".safetensors")
    assert len(path.name) == limit
    fg.save({"w": np.ones(2)}, path)
    fg.save({"w": np.zeros(2)}, path)
    np.testing.assert_array_equal(fg.load(path)["w"], np.zeros(2))
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.parametrize("nested", [False, True])
def test_a_flipped_byte_in_the_data_is_detected(tmp_path, nested):
    path = tmp_path / "w.safetensors"
    state = {"w": np.arange(64.0)}
    fg.save({"outer": state, "n": 1} if nested else state, path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(fg.CheckpointError, match="checksum"):
        fg.load(path)


def test_a_corrupt_structure_description_is_a_checkpoint_error(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "x.safetensors"
    save_file({"w": np.ones(1)}, str(path), metadata={"ferrograd.tree": '{"$tensor": "nope"}'})
    with pytest.raises(fg.CheckpointError, match="corrupt"):
        fg.load(path)


def test_float64_checkpoint_that_overflows_float32_is_refused(tmp_path):
    model = nn.Linear(2, 2)
    before = model.state_dict()
    big = {k: v.astype(np.float64) for k, v in before.items()}
    big["bias"][1] = 1e300
    path = tmp_path / "big.safetensors"
    fg.save(big, path)
    with pytest.raises(fg.ArgumentError, match=r"bias: value 1e\+300 at index \(1,\).*float32"):
        model.load(path)
    for k, v in model.state_dict().items():  # nothing changed
        np.testing.assert_array_equal(v, before[k])
    ok = {k: v.astype(np.float64) for k, v in before.items()}
    ok["bias"][0] = np.inf  # an inf stays an inf: not an overflow
    model.load_state_dict(ok)
    assert model.bias.data[0] == np.inf


def test_optimizer_state_that_overflows_float32_is_refused():
    model = nn.Linear(2, 1)
    opt = optim.Adam(model.parameters())
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = sd["state"][0]["exp_avg"].astype(np.float64) * 1e300
    with pytest.raises(fg.ArgumentError, match="exp_avg"):
        opt.load_state_dict(sd)
