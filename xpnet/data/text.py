"""Book 2's word-vector utilities (``common/util.py``, chapters 2-3), on any backend.

``preprocess`` gives the corpus as integer word ids on the active backend; everything else
follows its inputs. The book's Python loops (``create_co_matrix``, ``ppmi``,
``create_contexts_target``, ``most_similar``) are array operations here: ``most_similar`` and
``analogy`` read the similarities back to the host once per query, so they work on GPU arrays
(the book's ``most_similar`` fails on CuPy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_device, asarray, asnumpy, float_dtype, get_namespace, index_add, one_hot
from ..layers.functions import check_labels

__all__ = [
    "preprocess",
    "create_co_matrix",
    "cos_similarity",
    "most_similar",
    "ppmi",
    "analogy",
    "normalize",
    "create_contexts_target",
    "convert_one_hot",
    "svd",
]


def preprocess(text: str) -> tuple[Any, dict[str, int], dict[int, str]]:
    """Lower-case ``text``, split it at spaces (``.`` becomes a word) and number the words in order of appearance.

    Returns ``corpus`` (int64 word ids, shape ``(N,)``, on the active backend), ``word_to_id``
    and ``id_to_word``, as the book's ``preprocess``.
    """
    words = text.lower().replace(".", " .").split(" ")
    word_to_id: dict[str, int] = {}
    id_to_word: dict[int, str] = {}
    for word in words:
        if word not in word_to_id:
            new_id = len(word_to_id)
            word_to_id[word] = new_id
            id_to_word[new_id] = word
    corpus = np.array([word_to_id[w] for w in words], dtype=np.int64)
    return asarray(corpus), word_to_id, id_to_word


def _check_corpus(corpus: Any, name: str) -> Any:
    xp = get_namespace(corpus)
    if corpus.ndim != 1 or not xp.isdtype(corpus.dtype, "integral"):
        raise ValueError(
            f"{name}: corpus must be a 1-D array of integer word ids, got shape {tuple(corpus.shape)} "
            f"and dtype {corpus.dtype}"
        )
    return xp


def create_co_matrix(corpus: Any, vocab_size: int, window_size: int = 1, *, max_bytes: int = 1 << 30) -> Any:
    """Co-occurrence counts ``C[w, u]``: how often ``u`` is within ``window_size`` words of ``w``.

    ``corpus`` holds integer ids ``(N,)`` in ``[0, vocab_size)`` (checked: one read); returns int32
    ``(vocab_size, vocab_size)`` on its device. One scatter-add per window offset instead of the
    book's loop over the corpus. The matrix grows with the square of the vocabulary: one of more than
    ``max_bytes`` (default 1 GiB, about 16,000 words) is refused before anything is allocated.
    """
    xp = _check_corpus(corpus, "create_co_matrix")
    V = vocab_size
    nbytes = V * V * 4
    if nbytes > max_bytes:
        raise ValueError(
            f"create_co_matrix: a vocabulary of {V:,} words needs a {V:,} x {V:,} matrix of {nbytes / 2**30:.3g} "
            f"GiB, more than max_bytes={max_bytes:,}; pass a larger max_bytes, or keep fewer words"
        )
    check_labels(corpus, V, sync=True, what="create_co_matrix: the corpus's word ids")
    flat = xp.zeros((V * V,), dtype=xp.int32, device=array_device(corpus))
    corpus = xp.astype(corpus, xp.int64)
    for k in range(1, window_size + 1):
        if k >= corpus.shape[0]:
            break
        a, b = corpus[: corpus.shape[0] - k], corpus[k:]
        pairs = xp.concat([a * V + b, b * V + a])
        index_add(flat, pairs, xp.ones(pairs.shape, dtype=xp.int32, device=array_device(corpus)))
    return xp.reshape(flat, (V, V))


def _floating(xp: Any, x: Any) -> Any:
    """Integer counts become float64 (the book's numpy promotes them so); floats keep their dtype."""
    return x if xp.isdtype(x.dtype, "real floating") else xp.astype(x, xp.float64)


def cos_similarity(x: Any, y: Any, eps: float = 1e-8) -> Any:
    """Cosine similarity of two vectors ``(D,)``, as the book: ``x / (|x| + eps)`` dotted with ``y / (|y| + eps)``.

    Returns a 0-D array (float64 for integer inputs, else their dtype).
    """
    xp = get_namespace(x, y)
    x, y = _floating(xp, x), _floating(xp, y)
    nx = x / (xp.sqrt(xp.sum(x * x)) + eps)
    ny = y / (xp.sqrt(xp.sum(y * y)) + eps)
    return xp.sum(nx * ny)


def _similarities(word_matrix: Any, query_vec: Any, eps: float = 1e-8) -> np.ndarray:
    """Cosine similarity of every row of ``word_matrix`` with ``query_vec``, read back to the host once."""
    xp = get_namespace(word_matrix)
    W = _floating(xp, word_matrix)
    q = _floating(xp, query_vec)
    rows = W / (xp.sqrt(xp.sum(W * W, axis=1, keepdims=True)) + eps)
    q = q / (xp.sqrt(xp.sum(q * q)) + eps)
    return asnumpy(rows @ q).astype(np.float64)


def most_similar(
    query: str, word_to_id: dict[str, int], id_to_word: dict[int, str], word_matrix: Any, top: int = 5
) -> list[tuple[str, float]] | None:
    """Print the ``top`` words whose rows of ``word_matrix`` ``(V, D)`` are most cosine-similar to ``query``'s.

    Prints as the book does (``[query] you`` then `` goodbye: 0.707...``); ties keep the word-id
    order. Also returns the printed ``(word, similarity)`` pairs (``None`` for an unknown query).
    """
    if query not in word_to_id:
        print(f"{query} is not found")
        return None
    print("\n[query] " + query)
    sim = _similarities(word_matrix, word_matrix[word_to_id[query], ...])
    found = []
    for i in np.argsort(-sim, kind="stable"):
        if id_to_word[int(i)] == query:
            continue
        print(f" {id_to_word[int(i)]}: {sim[i]}")
        found.append((id_to_word[int(i)], float(sim[i])))
        if len(found) >= top:
            break
    return found


def ppmi(C: Any, verbose: bool = False, eps: float = 1e-8, *, dtype: Any = None) -> Any:
    """Positive pointwise mutual information of co-occurrence counts ``C`` ``(V, V)``.

    ``M[i, j] = max(0, log2(C[i, j] * N / (S[i] * S[j]) + eps))`` with ``N`` the total count and
    ``S`` the column sums, computed in one pass (the book loops over every pair). Returns
    ``dtype`` (default: xpnet's float dtype, float32 as the book) on ``C``'s device.
    ``verbose`` is accepted for the book's signature; there is no loop to report on.
    """
    xp = get_namespace(C)
    dt = float_dtype(xp, dtype)
    # In the result's dtype and in place: on PTB (V = 10,000) every V x V temporary is 400 MB in float32.
    M = xp.astype(C, dt)
    N = xp.sum(M)
    S = xp.sum(M, axis=0)
    M *= N
    M /= S[:, None]
    M /= S[None, :]
    M += eps
    M = xp.log2(M)
    if verbose:
        print("100.0% done")
    return xp.maximum(M, xp.zeros((), dtype=dt, device=array_device(M)))


def normalize(x: Any) -> Any:
    """Rows of ``x`` ``(V, D)`` (or the vector ``x`` ``(D,)``) scaled to unit length.

    Returns a new array; the book's ``normalize`` divides ``x`` in place and returns it.
    """
    xp = get_namespace(x)
    if x.ndim == 2:
        return x / xp.sqrt(xp.sum(x * x, axis=1, keepdims=True))
    if x.ndim == 1:
        return x / xp.sqrt(xp.sum(x * x))
    raise ValueError(f"normalize: expected a vector or a matrix, got shape {tuple(x.shape)}")


def analogy(
    a: str,
    b: str,
    c: str,
    word_to_id: dict[str, int],
    id_to_word: dict[int, str],
    word_matrix: Any,
    top: int = 5,
    answer: str | None = None,
) -> list[tuple[str, float]] | None:
    """Print the words ``?`` of ``a : b = c : ?`` (the rows nearest ``b - a + c``), as the book's ``analogy``.

    ``word_matrix`` ``(V, D)`` may live on any device; the scores are read back once. Returns the
    printed ``(word, score)`` pairs (``None`` when a word is unknown).
    """
    for word in (a, b, c):
        if word not in word_to_id:
            print(f"{word} is not found")
            return None
    print(f"\n[analogy] {a}:{b} = {c}:?")
    xp = get_namespace(word_matrix)
    W = _floating(xp, word_matrix)
    query = normalize(W[word_to_id[b], ...] - W[word_to_id[a], ...] + W[word_to_id[c], ...])
    scores = asnumpy(W @ query).astype(np.float64)
    if answer is not None:
        print(f"==>{answer}:{scores[word_to_id[answer]]}")
    found = []
    for i in np.argsort(-scores, kind="stable"):
        if np.isnan(scores[i]) or id_to_word[int(i)] in (a, b, c):
            continue
        print(f" {id_to_word[int(i)]}: {scores[i]}")
        found.append((id_to_word[int(i)], float(scores[i])))
        if len(found) >= top:
            break
    return found


def create_contexts_target(corpus: Any, window_size: int = 1) -> tuple[Any, Any]:
    """CBOW training pairs: ``contexts`` ``(N - 2w, 2w)`` (the ``w`` ids left and right of each word) and
    ``target`` ``(N - 2w,)``, on ``corpus``'s device (book 2, 3.3.1)."""
    xp = _check_corpus(corpus, "create_contexts_target")
    N, w = corpus.shape[0], window_size
    if 2 * w >= N:
        raise ValueError(f"create_contexts_target: a corpus of {N} words has no word with {w} neighbours each side")
    target = corpus[w : N - w]
    contexts = xp.stack([corpus[w + t : N - w + t] for t in range(-w, w + 1) if t != 0], axis=1)
    return contexts, target


def convert_one_hot(corpus: Any, vocab_size: int) -> Any:
    """Word ids ``(N,)`` or ``(N, C)`` as int32 one-hot ``(N, vocab_size)`` or ``(N, C, vocab_size)``."""
    xp = get_namespace(corpus)
    if corpus.ndim not in (1, 2):
        raise ValueError(f"convert_one_hot: expected ids of shape (N,) or (N, C), got {tuple(corpus.shape)}")
    return one_hot(corpus, vocab_size, xp.int32)


def svd(x: Any, full_matrices: bool = True) -> tuple[Any, Any, Any]:
    """``U, S, Vh`` of the matrix ``x`` ``(M, N)`` (``x = U @ diag(S) @ Vh``), for count-based word vectors.

    Uses ``xp.linalg.svd`` (the standard's linalg extension) when ``x``'s namespace has it;
    otherwise ``x`` is brought to the host, decomposed with NumPy and the factors moved back to
    ``x``'s device. Book 2, 2.4.3: ``U, S, V = svd(W); word_vecs = U[:, :wordvec_size]``.
    """
    xp = get_namespace(x)
    linalg = getattr(xp, "linalg", None)
    if linalg is not None and hasattr(linalg, "svd"):
        return tuple(linalg.svd(x, full_matrices=full_matrices))
    U, S, Vh = np.linalg.svd(asnumpy(x), full_matrices=full_matrices)
    return tuple(xp.asarray(a, dtype=x.dtype, device=array_device(x)) for a in (U, S, Vh))
