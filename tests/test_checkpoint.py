"""Checkpoints (xpnet.checkpoint, Network.save_params/load_params): nothing lost, nothing trusted."""

import io
import os
import socket
import stat
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import xpnet
from xpnet import TwoLayerNet
from xpnet.checkpoint import CheckpointError, clean_stale_temp_files, load_state, save_arrays

SHAPES = {"W1": (6, 5), "b1": (5,), "W2": (5, 3), "b2": (3,)}


def arrays(dtype="<f4", **override):
    r = np.random.default_rng(1)
    out = {k: r.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    out.update(override)
    return out


def host_params(net):
    return {k: xpnet.asnumpy(v).copy() for k, v in net.params.items()}


def assert_unchanged(net, before, objects):
    for k, v in net.params.items():
        assert v is objects[k], f"{k} was rebound"
        np.testing.assert_array_equal(xpnet.asnumpy(v), before[k])


@pytest.mark.parametrize("kind", ["string-b2", "big-endian-then-complex", "big-endian-then-overflow"])
def test_failed_load_leaves_the_network_exactly_as_it_was(backend, tmp_path, kind):
    """W1 comes first in the file and is valid; the failure comes after it (it used to be assigned)."""
    W1 = np.full((6, 5), 0.5, dtype=">f8")
    bad = {
        "string-b2": {"b2": np.array(["a", "b", "c"])},
        "big-endian-then-complex": {"W1": W1, "b2": np.array([1, 2, 3], dtype=np.complex64)},
        # 1e300 overflows float32; on float64 networks a string b2 fails instead
        "big-endian-then-overflow": {"W1": W1, "b2": np.array([1e300, 0, 0] if backend.dtype == "float32" else "xyz")},
    }[kind]
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays(**bad))
    net = TwoLayerNet(6, 5, 3, dtype=backend.dtype)
    before, objects = host_params(net), dict(net.params)
    with pytest.raises(CheckpointError, match=str(path)):
        net.load_params(path)
    assert_unchanged(net, before, objects)


def test_big_endian_checkpoints_load_on_every_backend(backend, tmp_path):
    src = arrays(">f8")
    np.savez(tmp_path / "be.npz", **src)
    net = TwoLayerNet(6, 5, 3, dtype=backend.dtype)
    net.load_params(tmp_path / "be.npz")
    for k, v in net.params.items():
        np.testing.assert_allclose(xpnet.asnumpy(v), src[k].astype(backend.dtype), rtol=1e-7)
        assert xpnet.backend.dtype_name(v) == backend.dtype
    assert tuple(net.predict(backend.asarray(np.ones((2, 6)))).shape) == (2, 3)


def test_unexpected_keys_are_refused(tmp_path):
    """A three-layer checkpoint used to load into a TwoLayerNet, silently dropping W3/b3."""
    xpnet.MultiLayerNet(6, [5, 5], 3).save_params(tmp_path / "three.npz")
    net = TwoLayerNet(6, 5, 3)
    before, objects = host_params(net), dict(net.params)
    with pytest.raises(CheckpointError, match=r"three\.npz.*'W3', 'b3'.*does not have"):
        net.load_params(tmp_path / "three.npz")
    assert_unchanged(net, before, objects)


class Boom:
    """Unpickling this would run code: the test fails if it ever happens."""

    ran = False

    def __reduce__(self):
        return (Boom._run, ())

    @staticmethod
    def _run():
        Boom.ran = True
        return 0


@pytest.mark.parametrize(
    "value",
    [
        np.zeros(3, dtype=np.complex128),
        np.zeros(3, dtype=bool),
        np.zeros(3, dtype=np.int64),
        np.zeros(3, dtype="datetime64[s]"),
        np.zeros(3, dtype=[("a", "<f4")]),
        np.array([Boom(), Boom(), Boom()], dtype=object),
    ],
    ids=["complex", "bool", "int", "datetime", "structured", "object"],
)
def test_non_real_floating_dtypes_are_refused(tmp_path, value):
    np.savez(tmp_path / "c.npz", **arrays(b2=value))
    with pytest.raises(CheckpointError, match=r"c\.npz.*'b2'.*dtype.*only real floating"):
        TwoLayerNet(6, 5, 3).load_params(tmp_path / "c.npz")
    assert not Boom.ran


def test_values_that_overflow_the_networks_dtype_are_refused(tmp_path):
    np.savez(tmp_path / "big.npz", **arrays("<f8", W2=np.full((5, 3), 1e300)))
    with pytest.raises(CheckpointError, match=r"'W2' holds 1e\+300, beyond the largest float32"):
        TwoLayerNet(6, 5, 3, dtype="float32").load_params(tmp_path / "big.npz")
    net = TwoLayerNet(6, 5, 3, dtype="float64")
    net.load_params(tmp_path / "big.npz")  # fits float64
    assert float(xpnet.asnumpy(net.params["W2"])[0, 0]) == 1e300


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_decompression_bomb_is_refused_before_reading(tmp_path, monkeypatch):
    """A small file whose members inflate to 64 MiB each: refused from the zip directory and the .npy
    headers, without decompressing the data (memory stays small) and without opening unexpected members."""
    path = tmp_path / "bomb.npz"
    header = npy_bytes(np.zeros((6, 5), dtype="<f4"))[:128]  # a valid (6, 5) header ...
    zeros = bytes(64 << 20)
    good = arrays()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("W1.npy", header + zeros)  # ... followed by 64 MiB
        for k in ("b1", "W2", "b2"):
            zf.writestr(f"{k}.npy", npy_bytes(good[k]))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"bomb\.npz.*'W1' declares 67,10"):
            TwoLayerNet(6, 5, 3).load_params(path)
        assert tracemalloc.get_traced_memory()[1] < 8 << 20
    finally:
        tracemalloc.stop()

    # a member declaring a huge shape in its header: refused from the header alone
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (9999999999,)})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("W1.npy", buf.getvalue() + bytes(1000))
        for k in ("b1", "W2", "b2"):
            zf.writestr(f"{k}.npy", npy_bytes(good[k]))
    with pytest.raises(CheckpointError, match=r"'W1'.*\(9999999999,\).*\(6, 5\)"):
        TwoLayerNet(6, 5, 3).load_params(path)

    # an unexpected member is refused by name, never opened
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for k, v in good.items():
            zf.writestr(f"{k}.npy", npy_bytes(v))
        zf.writestr("junk.npy", zeros)
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *a, **kw):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *a, **kw)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with pytest.raises(CheckpointError, match="'junk'"):
        TwoLayerNet(6, 5, 3).load_params(path)
    assert "junk.npy" not in opened


@pytest.mark.parametrize("kind", ["empty", "truncated", "plain-npy", "text", "truncated-member"])
def test_broken_files_name_the_path(tmp_path, kind):
    good = tmp_path / "good.npz"
    TwoLayerNet(6, 5, 3).save_params(good)
    path = tmp_path / f"{kind}.npz"
    data = good.read_bytes()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "plain-npy":
        np.save(path.with_suffix(".npy"), np.zeros(3))
        os.replace(path.with_suffix(".npy"), path)
    elif kind == "text":
        path.write_text("hello")
    else:  # a zip whose member stops short of its header's shape
        with zipfile.ZipFile(path, "w") as zf:
            for k, v in arrays().items():
                zf.writestr(f"{k}.npy", npy_bytes(v)[: -8 if k == "W2" else None])
    expected = {"empty": "empty", "plain-npy": "single .npy", "truncated-member": "'W2' is truncated"}
    with pytest.raises(CheckpointError, match=str(path) + ".*" + expected.get(kind, "")):
        TwoLayerNet(6, 5, 3).load_params(path)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        TwoLayerNet(6, 5, 3).load_params(tmp_path / "missing.npz")


def test_save_refuses_nonfinite_weights_unless_told(tmp_path, backend):
    net = TwoLayerNet(6, 5, 3, dtype=backend.dtype)
    W2 = xpnet.asnumpy(net.params["W2"]).copy()
    W2[1, 2] = np.nan
    net.params["W2"] = backend.asarray(W2)
    with pytest.raises(CheckpointError, match=r"d\.npz.*'W2' has 1 non-finite.*allow_nonfinite=True"):
        net.save_params(tmp_path / "d.npz")
    assert os.listdir(tmp_path) == []
    net.save_params(tmp_path / "d.npz", allow_nonfinite=True)
    with np.load(tmp_path / "d.npz") as f:
        assert np.isnan(f["W2"][1, 2])


def test_save_errors_name_the_target(tmp_path, monkeypatch):
    target = tmp_path / "nodir" / "p.npz"
    with pytest.raises(FileNotFoundError, match=r"nodir/p\.npz") as e:
        TwoLayerNet(6, 5, 3).save_params(target)
    assert ".xpnet-" not in str(e.value)

    def full(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError, match=r"No space left on device") as e:
        TwoLayerNet(6, 5, 3).save_params(tmp_path / "p.npz")
    assert str(tmp_path / "p.npz") in str(e.value) and ".xpnet-" not in str(e.value)
    assert os.listdir(tmp_path) == []  # no temporary file left behind


def test_save_keeps_the_targets_mode_and_honours_the_umask(tmp_path):
    path = tmp_path / "p.npz"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    TwoLayerNet(6, 5, 3).save_params(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    old = os.umask(0o027)
    try:
        TwoLayerNet(6, 5, 3).save_params(tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == 0o640


def test_save_writes_through_a_symlink(tmp_path):
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "run1.npz"
    TwoLayerNet(6, 5, 3).save_params(real)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    net = TwoLayerNet(6, 5, 3, rng=7)
    net.save_params(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    loaded = TwoLayerNet(6, 5, 3)
    loaded.load_params(real)
    np.testing.assert_array_equal(xpnet.asnumpy(loaded.params["W1"]), xpnet.asnumpy(net.params["W1"]))
    assert sorted(os.listdir(tmp_path / "runs")) == ["run1.npz"]


def test_temp_files_orphaned_by_a_kill_are_cleaned_on_the_next_save(tmp_path):
    """A writer killed mid-save leaves .xpnet-<pid>@<host>~*.npz.tmp; the next save removes it once that
    pid is gone (or, for files it cannot attribute, once they are an hour old). A live writer's file stays."""
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in ".-")[:64]
    code = (
        "import os, sys, time, xpnet; from xpnet.checkpoint import temp_prefix\n"
        f"open(os.path.join({str(tmp_path)!r}, temp_prefix() + 'abc.npz.tmp'), 'wb').write(b'half')\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "ready"
        finally:
            proc.kill()  # SIGKILL: no cleanup runs
    killed = tmp_path / f".xpnet-{proc.pid}@{host}~abc.npz.tmp"
    assert killed.exists()
    old = tmp_path / ".xpnet-legacyname.npz.tmp"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    live = tmp_path / f".xpnet-{os.getppid()}@{host}~live.npz.tmp"  # a writer still running
    live.write_bytes(b"x")
    other = tmp_path / "notes.npz.tmp"
    other.write_bytes(b"x")
    TwoLayerNet(6, 5, 3).save_params(tmp_path / "p.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["p.npz", live.name, other.name])
    assert clean_stale_temp_files(tmp_path) == []


def test_load_state_serves_models_with_lists_of_params(backend, tmp_path):
    """Book 2's models keep params in lists: the same two calls save and load them all-or-nothing."""
    r = np.random.default_rng(0)
    params = [backend.asarray(r.standard_normal((4, 3))), backend.asarray(r.standard_normal(3))]
    save_arrays(tmp_path / "m.npz", {str(i): p for i, p in enumerate(params)})
    fresh = [backend.asarray(np.zeros((4, 3))), backend.asarray(np.zeros(3))]
    loaded = load_state(tmp_path / "m.npz", {str(i): p for i, p in enumerate(fresh)})
    for i, p in enumerate(params):
        np.testing.assert_array_equal(xpnet.asnumpy(loaded[str(i)]), xpnet.asnumpy(p))
        assert xpnet.backend.array_device(loaded[str(i)]) == xpnet.backend.array_device(p)
    with pytest.raises(CheckpointError, match=r"has no parameter '2'"):
        load_state(tmp_path / "m.npz", {"0": fresh[0], "1": fresh[1], "2": fresh[1]})
