"""Book 2's toy sequence data sets (chapter 7): the addition set and the date set, with ``get_vocab``.

``load_data(file_name, seed=1984)`` reads a file of lines ``question_answer`` (the answer
starts at the first ``_``) like the book's ``dataset/sequence.py``: every character becomes an
id, the rows are shuffled with ``seed`` and the last tenth is the test set. It returns
``(x_train, t_train), (x_test, t_test)`` as integer arrays ``(n, question_length)`` and
``(n, answer_length)`` on the active backend; ``get_vocab()`` returns ``(char_to_id, id_to_char)``.

``load_addition()`` and ``load_date()`` use the book's ``addition.txt`` / ``date.txt`` when a
copy is found (``data_home``, ``$XPNET_DATA_DIR``, xpnet's cache directory, each optionally in
a ``sequence/`` sub-directory). Otherwise, so that everything works offline, they **generate**
a data set of the same format with a fixed seed and write it (atomically) into the cache as
``addition.generated.txt`` / ``date.generated.txt``: random sums ``"16+75  _91  "`` of two
numbers below 1000, and random dates from 1970 to 2019 written in one of many human formats,
answered in ISO ``yyyy-mm-dd``. The generated sets are not the book's files (the same kind
of task, not the same lines), and say so in their names.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import asarray
from .io import atomic_write

__all__ = [
    "load_data",
    "load_addition",
    "load_date",
    "get_vocab",
    "generate_addition",
    "generate_date",
    "find_sequence_file",
]

id_to_char: dict[int, str] = {}
char_to_id: dict[str, int] = {}

N_LINES = 50000  # the book's files hold 50,000 lines each


def _update_vocab(text: str) -> None:
    for c in text:
        if c not in char_to_id:
            new_id = len(char_to_id)
            char_to_id[c] = new_id
            id_to_char[new_id] = c


def get_vocab() -> tuple[dict[str, int], dict[int, str]]:
    """``(char_to_id, id_to_char)`` of the characters seen by the ``load_*`` calls so far (book 2)."""
    return char_to_id, id_to_char


def load_data(file_name: str | os.PathLike = "addition.txt", seed: int | None = 1984) -> tuple[tuple, tuple]:
    """Book 2's ``sequence.load_data``: a ``question_answer`` text file as id arrays, shuffled, 90/10 split.

    ``file_name`` is a path; the bare names ``"addition.txt"`` and ``"date.txt"`` go through
    :func:`load_addition` / :func:`load_date` (the book's file when found, else the generated one).
    """
    name = os.fspath(file_name)
    if name in ("addition.txt", "date.txt") and not Path(name).is_file():
        return (load_addition if name == "addition.txt" else load_date)(seed=seed)
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no sequence data file {path}")
    questions, answers = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            idx = line.find("_")
            if idx < 0:
                raise ValueError(f"{path}, line {n}: no '_' separates question and answer: {line!r}")
            questions.append(line[:idx])
            answers.append(line[idx:])
    if not questions:
        raise ValueError(f"{path} holds no lines")
    if len({len(q) for q in questions}) != 1 or len({len(a) for a in answers}) != 1:
        raise ValueError(f"{path}: questions and answers must each have one fixed width (pad them with spaces)")
    for q, a in zip(questions, answers):
        _update_vocab(q)
        _update_vocab(a)
    x = np.array([[char_to_id[c] for c in q] for q in questions], dtype=np.int64)
    t = np.array([[char_to_id[c] for c in a] for a in answers], dtype=np.int64)
    indices = np.arange(len(x))
    if seed is not None:
        np.random.RandomState(seed).shuffle(indices)  # the book's np.random.seed(seed); np.random.shuffle
    x, t = x[indices], t[indices]
    split_at = len(x) - len(x) // 10
    return (asarray(x[:split_at]), asarray(t[:split_at])), (asarray(x[split_at:]), asarray(t[split_at:]))


def _dirs(data_home: str | os.PathLike | None) -> list[Path]:
    from .io import cache_dir

    dirs = []
    home = data_home if data_home is not None else os.environ.get("XPNET_DATA_DIR")
    if home:
        dirs += [Path(home) / "sequence", Path(home)]
    return [*dirs, cache_dir() / "sequence"]


def find_sequence_file(file_name: str, data_home: str | os.PathLike | None = None) -> Path | None:
    """The first copy of the book's ``file_name`` (``addition.txt``, ``date.txt``) in the search directories."""
    for d in _dirs(data_home):
        if (d / file_name).is_file():
            return d / file_name
    return None


def _write_lines(path: Path, lines: list[str]) -> None:
    atomic_write(path, lambda f: f.write("".join(line + "\n" for line in lines).encode("utf-8")), make_dirs=True)


def generate_addition(n: int = N_LINES, seed: int = 0) -> list[str]:
    """``n`` lines ``"a+b" + "_" + "a+b's sum"`` for random ``a, b`` in [0, 999], padded to 7 and 5 characters
    (the format of the book's ``addition.txt``; generated, not the book's lines)."""
    r = np.random.default_rng(seed)
    a, b = r.integers(0, 1000, n), r.integers(0, 1000, n)
    return [f"{f'{x}+{y}':<7}{f'_{x + y}':<5}" for x, y in zip(a.tolist(), b.tolist())]


_MONTHS = [datetime.date(2000, m, 1).strftime("%B") for m in range(1, 13)]
_DAYS = [datetime.date(2000, 1, d).strftime("%A") for d in range(3, 10)]  # 2000-01-03 was a Monday


def _human(d: datetime.date, style: int) -> str:
    month, mon = _MONTHS[d.month - 1], _MONTHS[d.month - 1][:3]
    day, dy = _DAYS[d.weekday()], _DAYS[d.weekday()][:3]
    yy = d.year % 100
    forms = [
        f"{month} {d.day}, {d.year}",
        f"{mon} {d.day}, {d.year}",
        f"{d.month}/{d.day}/{yy:02d}",
        f"{d.month}/{d.day}/{d.year}",
        f"{day}, {month} {d.day}, {d.year}",
        f"{dy}, {mon} {d.day}, {d.year}",
        f"{d.day} {month} {d.year}",
        f"{d.day} {mon} {d.year}",
        f"{month} {d.day} {d.year}",
        f"{d.year}-{d.month}-{d.day}",
    ]
    return forms[style % len(forms)]


def generate_date(n: int = N_LINES, seed: int = 0) -> list[str]:
    """``n`` lines: a random date of 1970-2019 in one of ten human formats (month names in lower, Title or UPPER
    case), padded to 29 characters, then ``"_yyyy-mm-dd"`` (the format of the book's ``date.txt``; generated)."""
    r = np.random.default_rng(seed)
    start = datetime.date(1970, 1, 1).toordinal()
    span = datetime.date(2019, 12, 31).toordinal() - start + 1
    days, styles, cases = r.integers(0, span, n), r.integers(0, 10, n), r.integers(0, 3, n)
    lines = []
    for k, s, c in zip(days.tolist(), styles.tolist(), cases.tolist()):
        d = datetime.date.fromordinal(start + k)
        text = _human(d, s)
        text = (text.lower(), text, text.upper())[c]
        lines.append(f"{text:<29}_{d.isoformat()}")
    return lines


def _load(book_name: str, generator: Any, seed: int | None, data_home: Any) -> tuple[tuple, tuple]:
    found = find_sequence_file(book_name, data_home)
    if found is not None:
        return load_data(found, seed=seed)
    from .io import cache_dir

    generated = cache_dir() / "sequence" / book_name.replace(".txt", ".generated.txt")
    if not generated.is_file():
        _write_lines(generated, generator())
    return load_data(generated, seed=seed)


def load_addition(seed: int | None = 1984, *, data_home: str | os.PathLike | None = None) -> tuple[tuple, tuple]:
    """The addition set (``"16+75  "`` -> ``"_91  "``): the book's ``addition.txt`` when found, else generated.

    Returns ``(x_train, t_train), (x_test, t_test)`` (45,000 / 5,000 rows of 7 and 5 character ids).
    """
    return _load("addition.txt", generate_addition, seed, data_home)


def load_date(seed: int | None = 1984, *, data_home: str | os.PathLike | None = None) -> tuple[tuple, tuple]:
    """The date set (``"september 27, 1994"`` -> ``"_1994-09-27"``): the book's ``date.txt`` when found, else
    generated. Returns ``(x_train, t_train), (x_test, t_test)`` (29 and 11 character ids per row)."""
    return _load("date.txt", generate_date, seed, data_home)
