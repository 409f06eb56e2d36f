"""``xpnet rnnlm`` and ``xpnet seq2seq`` (xpnet.cli.rnn), in their quick modes."""

from __future__ import annotations

import numpy as np
import pytest
from rnn_helpers import one_torch_thread  # noqa: F401

from xpnet import sequence
from xpnet.cli import rnn as cli_rnn


def test_rnnlm_on_the_markov_text(capsys, tmp_path):
    assert cli_rnn.main(["rnnlm", "--quick", "--generate", "5", "--save", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert "test perplexity" in out and "true perplexity: 4.23" in out
    assert (tmp_path / "m.npz").is_file()


def test_rnnlm_on_a_text_file(capsys, tmp_path):
    text = tmp_path / "t.txt"
    words = np.random.default_rng(0).choice(["a", "b", "c", "the", "cat"], 3000)
    text.write_text("\n".join(" ".join(words[i : i + 10]) for i in range(0, 3000, 10)))
    assert cli_rnn.main(["rnnlm", "--corpus", str(text), "--quick", "--model", "better"]) == 0
    assert "rnnlm better" in capsys.readouterr().out


def test_user_mistakes_exit_2(capsys):
    assert cli_rnn.main(["rnnlm", "--corpus", "no/such/file"]) == 2
    assert "neither markov, ptb nor a file" in capsys.readouterr().err
    assert cli_rnn.main(["seq2seq", "--attention", "--model", "peeky", "--quick"]) == 2


@pytest.mark.parametrize("extra", [["--model", "peeky", "--reverse"], ["--attention"]])
def test_seq2seq_quick(capsys, tmp_path, monkeypatch, extra):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("XPNET_DATA_DIR", raising=False)
    real = sequence.generate_addition
    monkeypatch.setattr(sequence, "generate_addition", lambda: real(700, 0))
    args = ["seq2seq", "--data", "addition", "--quick", *extra]
    if "--attention" in extra:
        args += ["--plot", str(tmp_path / "a.png")]
    assert cli_rnn.main(args) == 0
    assert "validation accuracy" in capsys.readouterr().out
    if "--attention" in extra:
        assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
