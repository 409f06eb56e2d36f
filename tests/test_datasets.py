import contextlib
import gzip
import hashlib
import http.server
import io
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_on

import xpnet
from xpnet import datasets
from xpnet.datasets import Dataset, DatasetError, DatasetNotFoundError, parse_cifar10_binary, parse_idx

FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(a: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.astype(np.uint8).tobytes()


def test_parse_idx_round_trip():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(a)), a)
    np.testing.assert_array_equal(parse_idx(idx_bytes(np.array([7, 1, 9]))), [7, 1, 9])


@pytest.mark.parametrize(
    "data,match",
    [
        (b"\x01\x00\x08\x01", "bad magic"),
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01", "type code 0x0d"),
        (b"\x00\x00\x08\x03\x00\x00", "header is incomplete"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), r"truncated or corrupt.*\(5,\).*found 2"),
    ],
)
def test_parse_idx_rejects_bad_files(data, match):
    with pytest.raises(DatasetError, match=match):
        parse_idx(data, "file.idx")


def cifar_record(label: int, seed: int) -> bytes:
    return bytes([label]) + np.random.default_rng(seed).integers(0, 256, 3072, dtype=np.uint8).tobytes()


def test_parse_cifar10_binary():
    x, t = parse_cifar10_binary(cifar_record(3, 0) + cifar_record(9, 1))
    assert x.shape == (2, 3, 32, 32) and t.tolist() == [3, 9]
    raw = np.frombuffer(cifar_record(3, 0), dtype=np.uint8)
    np.testing.assert_array_equal(x[0, 1].ravel(), raw[1 + 1024 : 1 + 2048])  # green plane
    with pytest.raises(DatasetError, match="truncated"):
        parse_cifar10_binary(cifar_record(3, 0)[:-1])


# --- a small data set, written by the tests ---------------------------------------------


def write_idx_set(directory: Path, n_train=20, n_test=10) -> dict[str, str]:
    """Four gzipped IDX files like MNIST's; returns {file: "sha256:..."}."""
    directory.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": r.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": r.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte.gz": r.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": r.integers(0, 10, n_test),
    }
    hashes = {}
    for name, a in arrays.items():
        data = gzip.compress(idx_bytes(a), mtime=0)
        (directory / name).write_bytes(data)
        hashes[name] = "sha256:" + hashlib.sha256(data).hexdigest()
    return hashes


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real cache, no XPNET_DATA_DIR: every test sees only what it writes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("XPNET_DATA_DIR", raising=False)
    return tmp_path


class Server:
    """A real HTTP server on 127.0.0.1 serving one directory, counting requests."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "www")
    (tmp_path / "www").mkdir(exist_ok=True)
    yield s
    s.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def register(monkeypatch, hashes, mirrors, system_dirs=()):
    monkeypatch.setitem(datasets.DATASETS, "mnist", Dataset("mnist", hashes, mirrors, list(system_dirs)))


def test_download_from_second_mirror_then_cached(isolated, server, monkeypatch, backend):
    hashes = write_idx_set(isolated / "www" / "mirror2")
    register(monkeypatch, hashes, [server.url + "missing/", server.url + "mirror2/"])
    (x, t), (xt, tt) = xpnet.datasets.load_mnist()
    assert tuple(x.shape) == (20, 784) and tuple(xt.shape) == (10, 784)
    assert_on(backend, x)
    assert float(xpnet.asnumpy(x).max()) <= 1.0
    assert any(p.startswith("/missing/") for p in server.requests)  # the first mirror 404'd
    cached = Path(isolated / "cache" / "xpnet" / "mnist")
    assert sorted(os.listdir(cached)) == sorted(hashes)
    n = len(server.requests)
    (x2, _), _ = xpnet.datasets.load_mnist(flatten=False, normalize=False, one_hot_label=True)
    assert len(server.requests) == n  # served from the cache
    assert tuple(x2.shape) == (20, 1, 28, 28) and "uint8" in str(x2.dtype)


def test_checksum_mismatch_leaves_no_file(isolated, server, monkeypatch):
    hashes = write_idx_set(isolated / "www" / "m")
    hashes["train-images-idx3-ubyte.gz"] = "sha256:" + "0" * 64
    register(monkeypatch, hashes, [server.url + "m/"])
    with pytest.raises(DatasetNotFoundError, match=r"train-images-idx3-ubyte.gz.*(hash|SHA256)"):
        xpnet.datasets.load_mnist()
    cached = isolated / "cache" / "xpnet" / "mnist"
    assert "train-images-idx3-ubyte.gz" not in (os.listdir(cached) if cached.exists() else [])


def test_corrupt_cached_file_is_fetched_again(isolated, server, monkeypatch):
    hashes = write_idx_set(isolated / "www" / "m")
    write_idx_set(isolated / "cache" / "xpnet" / "mnist")
    (isolated / "cache" / "xpnet" / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    register(monkeypatch, hashes, [server.url + "m/"])
    xpnet.datasets.load_mnist()
    assert server.requests == ["/m/t10k-labels-idx1-ubyte.gz"]


def test_corrupt_user_file_names_file_and_checksum(isolated, monkeypatch):
    hashes = write_idx_set(isolated / "data")
    (isolated / "data" / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    register(monkeypatch, hashes, [closed_port_url()])
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz is corrupt.*sha256 is [0-9a-f]{64}"):
        xpnet.datasets.load_mnist(data_home=isolated / "data")


def test_data_home_and_env_var_are_searched_first(isolated, monkeypatch):
    hashes = write_idx_set(isolated / "mine")
    register(monkeypatch, hashes, [closed_port_url()])
    (x, _), _ = xpnet.datasets.load_mnist(data_home=isolated / "mine")
    assert tuple(x.shape) == (20, 784)
    monkeypatch.setenv("XPNET_DATA_DIR", str(isolated / "mine"))
    assert xpnet.datasets.find_dataset("mnist") == isolated / "mine"


def test_offline_error_lists_places(isolated, monkeypatch):
    """One short line, then an indented list of where it looked and what it tried (it was 2,819 chars)."""
    (isolated / "nothing").mkdir()
    register(monkeypatch, write_idx_set(isolated / "elsewhere"), [closed_port_url(), closed_port_url()],
             ["/nonexistent/sys"])  # fmt: skip
    monkeypatch.setattr(datasets, "RETRIES", 1)
    monkeypatch.setattr(datasets.time, "sleep", lambda s: None)
    with pytest.raises(DatasetNotFoundError) as e:
        xpnet.datasets.load_mnist(data_home=isolated / "nothing")
    msg = str(e.value)
    lines = msg.splitlines()
    assert lines[0] == "no copy of mnist found (the download failed)"
    assert all(ln.startswith("  ") for ln in lines[1:])
    assert "/nonexistent/sys" in msg and str(isolated / "nothing") in msg and "XPNET_DATA_DIR" in msg
    assert sum("tried http://127.0.0.1" in ln for ln in lines) == 2  # one line per mirror, not per attempt
    assert len(msg) < 1200, msg
    with pytest.raises(DatasetNotFoundError, match=r"^no copy of mnist found \(download=False\)\n  looked in:"):
        xpnet.datasets.load_mnist(data_home=isolated / "nothing", download=False)


def test_a_data_home_that_does_not_exist_is_an_error(isolated, monkeypatch):
    """--data-dir /typo used to fall through silently to another copy (the cache, the OS package)."""
    write_idx_set(isolated / "cache" / "xpnet" / "mnist")
    register(monkeypatch, write_idx_set(isolated / "cache" / "xpnet" / "mnist"), [closed_port_url()])
    xpnet.datasets.load_mnist()  # the cached copy is found when no directory is named
    with pytest.raises(DatasetError, match=r"data directory .*typo does not exist \(given as data_home=\)"):
        xpnet.datasets.load_mnist(data_home=isolated / "typo")
    monkeypatch.setenv("XPNET_DATA_DIR", str(isolated / "typo2"))
    with pytest.raises(DatasetError, match=r"typo2 does not exist \(given as \$XPNET_DATA_DIR\)"):
        xpnet.datasets.find_dataset("mnist")


def test_cifar10_from_binary_archive(isolated, monkeypatch, backend):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
            data = cifar_record(i, i) + cifar_record(9 - i, 10 + i)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (isolated / "c").mkdir()
    (isolated / "c" / "cifar-10-binary.tar.gz").write_bytes(buf.getvalue())
    digest = "md5:" + hashlib.md5(buf.getvalue()).hexdigest()
    monkeypatch.setitem(datasets.DATASETS, "cifar10", Dataset("cifar10", {"cifar-10-binary.tar.gz": digest}, []))
    (x, t), (xt, tt) = xpnet.datasets.load_cifar_10(data_home=isolated / "c")
    assert tuple(x.shape) == (10, 3072) and tuple(xt.shape) == (2, 3072)
    assert xpnet.asnumpy(t).tolist() == [0, 9, 1, 8, 2, 7, 3, 6, 4, 5]
    (g, _), _ = xpnet.datasets.load_cifar10(grayscale=True, normalize=False, data_home=isolated / "c")
    raw = np.frombuffer(cifar_record(0, 0), dtype=np.uint8)[1:].reshape(3, 1024).astype(float)
    np.testing.assert_array_equal(xpnet.asnumpy(g)[0], np.rint(0.299 * raw[0] + 0.587 * raw[1] + 0.114 * raw[2]))
    assert_on(backend, g)


def test_spiral_matches_the_book(backend):
    x, t = xpnet.datasets.load_spiral()
    assert tuple(x.shape) == (300, 2) and tuple(t.shape) == (300, 3)
    assert_on(backend, x)
    rs = np.random.RandomState(1984)  # the book's np.random.seed(1984) stream: one draw per point
    rs.randn()
    theta1 = 4.0 * 0.01 + rs.randn() * 0.2
    np.testing.assert_allclose(xpnet.asnumpy(x)[1], [0.01 * np.sin(theta1), 0.01 * np.cos(theta1)], rtol=1e-6)
    assert xpnet.asnumpy(t).sum(axis=0).tolist() == [100, 100, 100]


@pytest.mark.skipif(not FASHION.exists(), reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_from_the_os_package(isolated):
    (x, t), (xt, tt) = xpnet.datasets.load_fashion_mnist(one_hot_label=True)
    assert tuple(x.shape) == (60000, 784) and tuple(tt.shape) == (10000, 10)
    assert xpnet.asnumpy(t).sum(axis=0).tolist() == [6000] * 10


@pytest.mark.skipif(not FASHION.exists(), reason="apt-get install dataset-fashion-mnist")
def test_two_layer_net_learns_real_fashion_mnist(isolated, backend):
    """The seed notebook's run (TwoLayerNet 784-50-10, batch 100, lr 0.1) reached 0.876."""
    if (backend.name, backend.dtype) not in {("numpy", "float32"), ("torch", "float32"), ("cupy", "float32")}:
        pytest.skip("full training runs on numpy, torch and cupy in float32 only (time)")
    (x, t), (xt, tt) = xpnet.datasets.load_fashion_mnist(one_hot_label=True)
    assert_on(backend, x)
    net = xpnet.TwoLayerNet(784, 50, 10, rng=0)
    trainer = xpnet.trainer.Trainer(
        net, x, t, xt, tt, epochs=17, mini_batch_size=100, optimizer_param={"lr": 0.1}, verbose=False, seed=0
    )
    trainer.train()
    assert trainer.final_test_acc >= 0.85


@pytest.mark.skipif(not FASHION.exists(), reason="apt-get install dataset-fashion-mnist")
def test_simple_conv_net_short_run_on_real_fashion_mnist(isolated):
    """A short run of book 1's SimpleConvNet setup (Adam, lr 0.001, batch 100); BENCHMARKS.md has the full run."""
    (x, t), (xt, tt) = xpnet.datasets.load_fashion_mnist(flatten=False)
    net = xpnet.SimpleConvNet(rng=0)
    trainer = xpnet.trainer.Trainer(net, x, t, xt[:1000, ...], tt[:1000, ...], epochs=1, mini_batch_size=100,
                                    optimizer="Adam", optimizer_param={"lr": 0.001}, verbose=False, seed=0,
                                    evaluate_sample_num_per_epoch=500, max_iter=150)  # fmt: skip
    trainer.train()
    assert trainer.final_test_acc >= 0.7


def test_flaky_mirror_is_retried(isolated, tmp_path, monkeypatch):
    """A server that fails the first request for a file, then serves it: the retry gets it."""
    hashes = write_idx_set(isolated / "www2" / "m")
    failed: set[str] = set()
    root = isolated / "www2"

    class Flaky(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def do_GET(self):
            if self.path not in failed:
                failed.add(self.path)
                self.send_error(503, "try again")
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        register(monkeypatch, hashes, [f"http://127.0.0.1:{httpd.server_address[1]}/m/"])
        (x, _), _ = xpnet.datasets.load_mnist()
        assert tuple(x.shape) == (20, 784)
        assert len(failed) == 4
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- hostile servers: each test is bounded by small caps and timeouts ---------------------


class Hostile:
    """A real server on 127.0.0.1 whose handler streams ``body(handler)`` slowly or forever."""

    def __init__(self, body):
        self.stop = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    body(self, outer.stop)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def zeros_forever(handler, stop):
    block = bytes(1 << 16)
    while not stop.is_set():
        handler.wfile.write(block)


def one_byte_every(seconds):
    def body(handler, stop):
        while not stop.wait(seconds):
            handler.wfile.write(b"\0")
            handler.wfile.flush()

    return body


@pytest.fixture
def fast_fail(monkeypatch):
    monkeypatch.setattr(datasets, "RETRIES", 0)
    monkeypatch.setattr(datasets, "CONNECT_TIMEOUT", 2.0)


def cache_listing(isolated):
    d = isolated / "cache" / "xpnet" / "mnist"
    return sorted(os.listdir(d)) if d.exists() else []


def test_a_server_streaming_zeros_forever_is_cut_at_the_known_size(isolated, monkeypatch, fast_fail):
    hostile = Hostile(zeros_forever)
    try:
        hashes = write_idx_set(isolated / "unused")
        sizes = dict.fromkeys(hashes, 100_000)  # cap: 100,000 + 1 % + 64 KiB
        monkeypatch.setitem(datasets.DATASETS, "mnist", Dataset("mnist", hashes, [hostile.url], [], sizes))
        start = time.monotonic()
        with pytest.raises(DatasetNotFoundError, match=r"more than the 166,536 bytes"):
            xpnet.datasets.load_mnist(progress=False)
        assert time.monotonic() - start < 5
    finally:
        hostile.close()
    assert cache_listing(isolated) == []  # nothing partial left behind


def test_known_sizes_are_in_the_registry():
    for ds in ("mnist", "fashion-mnist", "cifar10"):
        assert set(datasets.DATASETS[ds].sizes) == set(datasets.DATASETS[ds].files)
    assert datasets.DATASETS["mnist"].max_bytes("train-images-idx3-ubyte.gz") < 10_200_000
    assert datasets.Dataset("x", {"f": "md5:0"}, []).max_bytes("f") == datasets.MAX_DOWNLOAD_BYTES


def test_a_byte_every_second_hits_the_read_timeout(isolated, monkeypatch, fast_fail):
    monkeypatch.setattr(datasets, "READ_TIMEOUT", 0.3)
    hostile = Hostile(one_byte_every(1.0))
    try:
        register(monkeypatch, write_idx_set(isolated / "unused"), [hostile.url])
        start = time.monotonic()
        with pytest.raises(DatasetNotFoundError, match=r"no data for 0.3 s \(read timeout\)"):
            xpnet.datasets.load_mnist(progress=False)
        assert time.monotonic() - start < 3
    finally:
        hostile.close()
    assert cache_listing(isolated) == []


def test_a_steady_trickle_hits_the_overall_deadline(isolated, monkeypatch, fast_fail):
    monkeypatch.setattr(datasets, "DOWNLOAD_DEADLINE", 1.0)
    hostile = Hostile(one_byte_every(0.05))  # always within the read timeout
    try:
        register(monkeypatch, write_idx_set(isolated / "unused"), [hostile.url])
        start = time.monotonic()
        with pytest.raises(DatasetNotFoundError, match=r"not finished after 1 s \(the overall deadline\)"):
            xpnet.datasets.load_mnist(progress=False)
        assert time.monotonic() - start < 4
    finally:
        hostile.close()
    assert cache_listing(isolated) == []


def test_a_killed_downloads_temp_file_is_cleaned(isolated, server, monkeypatch):
    """A download killed with SIGKILL leaves its .part file; the next download into that cache removes it
    (its writer's pid is dead), and keeps a live writer's file."""
    cache = isolated / "cache" / "xpnet" / "mnist"
    cache.mkdir(parents=True)
    code = (
        "import os, time; from xpnet.checkpoint import temp_prefix\n"
        f"open(os.path.join({str(cache)!r}, temp_prefix() + 'x.part'), 'wb').write(b'half')\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "ready"
        finally:
            proc.kill()
    orphan = [n for n in os.listdir(cache) if n.endswith(".part")]
    assert len(orphan) == 1 and f"-{proc.pid}@" in orphan[0]
    live = cache / f".xpnet-{os.getppid()}@{orphan[0].split('@')[1].split('~')[0]}~live.part"
    live.write_bytes(b"x")
    hashes = write_idx_set(isolated / "www" / "m")
    register(monkeypatch, hashes, [server.url + "m/"])
    xpnet.datasets.load_mnist(progress=False)
    assert sorted(os.listdir(cache)) == sorted([*hashes, live.name])


def test_progress_false_prints_nothing(isolated, server, monkeypatch, capfd):
    hashes = write_idx_set(isolated / "www" / "m")
    register(monkeypatch, hashes, [server.url + "m/"])
    xpnet.datasets.load_mnist(progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert len(server.requests) == 4


def test_https_mirrors_are_tried_first(isolated, monkeypatch):
    tried = []

    def fake_fetch(url, *args):
        tried.append(url)
        raise datasets.DownloadError("no", permanent=True)

    monkeypatch.setattr(datasets, "_fetch", fake_fetch)
    register(monkeypatch, {"a.gz": "md5:0"}, ["http://one/", "https://two/", "http://three/", "https://four/"])
    with pytest.raises(DatasetNotFoundError):
        datasets._download(datasets.DATASETS["mnist"], "a.gz", isolated)
    assert tried == ["https://two/a.gz", "https://four/a.gz", "http://one/a.gz", "http://three/a.gz"]


def test_either_published_hash_is_accepted(isolated, monkeypatch):
    """Fashion-MNIST's registry holds Debian's SHA-256 and the publisher's MD5 (their gzip headers differ)."""
    hashes = write_idx_set(isolated / "d")
    both = {f: ("sha256:" + "0" * 64, "md5:" + hashlib.md5((isolated / "d" / f).read_bytes()).hexdigest())
            for f in hashes}  # fmt: skip
    register(monkeypatch, both, [closed_port_url()])
    (x, _), _ = xpnet.datasets.load_mnist(data_home=isolated / "d")
    assert tuple(x.shape) == (20, 784)
    fm = datasets.DATASETS["fashion-mnist"].files
    assert all(len(h) == 2 and h[1].startswith("md5:") for h in fm.values())
