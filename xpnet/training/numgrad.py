"""Numerical gradients of whole networks, in bulk.

The book's loop perturbs one parameter entry at a time and runs a full forward pass for
each of the two signs: 79,520 forward passes for TwoLayerNet(784, 50, 10). Here the same
central differences (h = 1e-4, in float64) are evaluated many at a time, and only what a
perturbation changes is recomputed:

* the layers before the perturbed one are run once (their outputs are cached);
* perturbing an ``Affine`` weight ``W[i, j]`` (or bias ``b[j]``) moves one output column,
  which stays one column through element-wise activations; the next ``Affine`` turns it
  into a rank-one change of its output, ``out + delta * W_next[j]``; when that output is
  the logits, the softmax sums of all copies come from a few ``(N, H)`` products
  (``_rank_one_losses``), so a copy costs O(N) instead of a forward pass;
* from there on (other layouts), the perturbed copies are pushed through the remaining layers as one
  batch of shape ``(P, N, ...)``, and the loss is taken per copy.

Each perturbation uses the step the book's loop really takes, ``(w + h) - w`` after float64
rounding, so the values agree with the loop to about 1e-10.
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import array_device, get_namespace, one_hot
from ..layers.functions import LOG_EPS, cross_entropy_of_mask, label_mask
from ..layers.util import im2col
from .gradient import H, numerical_gradient

# Elements of float64 work per chunk of perturbations (about 64 MiB per intermediate array).
DEFAULT_BUDGET = 1 << 23


def network_numerical_gradient(
    net: Any, x: Any, t: Any, *, method: str = "bulk", chunk_size: int | None = None
) -> dict:
    """Central differences of ``net.loss(x, t, train_flg=True)`` for every parameter, in float64.

    The layers are asked through ``forward_many`` (no side effects: batch-norm running
    averages stay, dropout keeps one mask for every perturbed loss).
    """
    if method not in ("bulk", "loop"):
        raise ValueError(f"method must be 'bulk' or 'loop', not {method!r}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    xp = get_namespace(x)
    originals = dict(net.params.items())
    x64 = xp.astype(x, xp.float64) if xp.isdtype(x.dtype, "real floating") else x
    try:
        for name, p in originals.items():
            net.params[name] = xp.astype(p, xp.float64, copy=True)
        ctx = _Context(net, x64, t)  # also fixes the dropout masks for every perturbed loss
        if method == "loop":
            grads = {}
            loss = lambda _: _losses(net, x64[None, ...], 0, ctx)[0] + net.weight_decay_loss()  # noqa: E731
            for name in originals:
                grads[name] = numerical_gradient(loss, net.params[name])
        else:
            grads = _bulk(net, x64, ctx, chunk_size)
    finally:
        for name, p in originals.items():
            net.params[name] = p
    return {name: xp.astype(g, originals[name].dtype) for name, g in grads.items()}


# --- bulk evaluation ------------------------------------------------------------------


def _cross_entropy(z: Any, ctx: _Context) -> Any:
    """Per-copy loss ``-mean_n sum_c t log(softmax(z) + LOG_EPS)`` of logits ``z`` of shape ``(P, N, C)``."""
    xp = get_namespace(z)
    e = xp.exp(z - ctx.shift)  # the unperturbed rows' max: perturbed logits differ from them by ~h
    total = xp.sum(e, axis=-1)
    if ctx.one_hot:  # only the label's probability enters the loss
        y_t = xp.sum(e * ctx.mask, axis=-1) / total
        return -xp.sum(xp.log(y_t + LOG_EPS), axis=1) / z.shape[1]
    return cross_entropy_of_mask(e / total[..., None], ctx.mask, axis=1)


def _losses(net: Any, z: Any, start: int, ctx: _Context) -> Any:
    """Per-copy loss of ``z`` (``(P, N, ...)``, the input of layer ``start``): shape ``(P,)``."""
    return _cross_entropy(net.predict_many(z, True, start), ctx)


class _Context:
    """What every perturbation shares: cached layer inputs and the unperturbed softmax."""

    def __init__(self, net: Any, x: Any, t: Any) -> None:
        xp = get_namespace(x)
        self.layers = list(net.layers.values())
        self.acts = [x]  # acts[k] is the input of layer k; acts[-1] the logits
        for layer in self.layers:
            self.acts.append(layer.forward_many(self.acts[-1][None, ...], True)[0, ...])
        logits = self.acts[-1]
        soft = getattr(net.last_layer, "soft", False)
        self.mask = label_mask(logits, t, soft=soft)  # the loss layer's reading of t
        # Without soft labels the mask is one-hot by construction; soft ones may happen to be.
        self.one_hot = not soft or bool(
            xp.all((self.mask == 0.0) | (self.mask == 1.0)) and xp.all(xp.sum(self.mask, axis=-1) == 1.0)
        )
        self.shift = xp.max(logits, axis=-1, keepdims=True)
        self.E = xp.exp(logits - self.shift)  # (N, C), its row maxima are 1


def _steps(xp: Any, p: Any, flat: Any) -> tuple[Any, Any]:
    """The rounded steps ``(w + h) - w`` and ``(w - h) - w`` of entries ``flat`` of ``p``."""
    w = xp.take(xp.reshape(p, (-1,)), flat)
    return (w + H) - w, (w - H) - w


def _bulk(net: Any, x: Any, ctx: _Context, chunk_size: int | None) -> dict:
    xp = get_namespace(x)
    layers = ctx.layers
    lam = net.weight_decay_lambda
    decay = net.weight_decay_loss() if lam else 0.0
    grads = {}
    for name in net.params:
        layer, slot = net.params.owner(name)
        k = next(i for i, candidate in enumerate(layers) if candidate is layer)
        p = net.params[name]
        n = _size(p)
        plan = _plan(layers, k, slot)
        per_copy = plan.cost(ctx)
        chunk = chunk_size or max(1, DEFAULT_BUDGET // max(per_copy, 1))
        out = []
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            flat = xp.arange(start, stop, device=array_device(x))
            up, down = _steps(xp, p, flat)
            steps = xp.concat([up, down])
            idx = xp.concat([flat, flat])
            loss = plan.losses(net, ctx, idx, steps, [*range(start, stop)] * 2)
            if lam and name in net.decayed_params:
                w = xp.take(xp.reshape(p, (-1,)), idx)
                loss = loss + decay + 0.5 * lam * ((w + steps) ** 2 - w * w)
            elif lam:
                loss = loss + decay
            m = flat.shape[0]
            out.append((loss[:m] - loss[m:]) / (2 * H))
        grads[name] = xp.reshape(xp.concat(out), p.shape)
    return grads


def _plan(layers: list, k: int, slot: int) -> Any:
    """The cheapest evaluation the layer's declared structure (``linear``, ``elementwise``) allows."""
    linear = layers[k].linear
    if linear == "affine":
        return _AffinePlan(layers, k, slot)
    if linear == "conv" and slot == 0:
        return _ConvWeightPlan(k)
    return _GenericPlan(k, slot)


class _GenericPlan:
    """Perturb the slot in place, once per copy, and run the layer on the cached input."""

    def __init__(self, k: int, slot: int) -> None:
        self.k, self.slot = k, slot

    def cost(self, ctx: _Context) -> int:
        return _size(ctx.acts[self.k + 1]) * 4

    def losses(self, net: Any, ctx: _Context, idx: Any, steps: Any, host_idx: list[int]) -> Any:
        xp = get_namespace(steps)
        layer = ctx.layers[self.k]
        p = layer.params[self.slot]
        flat = xp.reshape(p, (-1,))
        outs = []
        try:
            for j, i in enumerate(host_idx):  # indices from the host: no device read per copy
                pert = xp.asarray(flat, copy=True)
                pert[i] = pert[i] + steps[j]
                layer.params[self.slot] = xp.reshape(pert, p.shape)
                outs.append(layer.forward_many(ctx.acts[self.k][None, ...], True)[0, ...])
        finally:
            layer.params[self.slot] = p
        return _losses(net, xp.stack(outs), self.k + 1, ctx)


class _AffinePlan:
    """``W[i, j]`` or ``b[j]`` of an Affine layer: one output column moves by ``step * x[:, i]`` (or ``step``).

    The column stays a column through element-wise activations; the next Affine turns it
    into a rank-one change ``change * W_next[j]`` of its output. When that output is the
    logits, the softmax sums are expanded in ``change`` (see ``_rank_one_losses``).
    """

    def __init__(self, layers: list, k: int, slot: int) -> None:
        self.k, self.slot = k, slot
        m = k + 1
        while m < len(layers) and layers[m].elementwise:
            m += 1
        self.next_affine = m if m < len(layers) and layers[m].linear == "affine" else None
        self.elementwise = layers[k + 1 : m] if self.next_affine is not None else []
        self.to_logits = self.next_affine == len(layers) - 1

    def cost(self, ctx: _Context) -> int:
        N = ctx.acts[0].shape[0]
        if self.to_logits:
            return N * 24
        out = ctx.acts[self.next_affine + 1] if self.next_affine is not None else ctx.acts[self.k + 1]
        return _size(out) * 4

    def losses(self, net: Any, ctx: _Context, idx: Any, steps: Any, host_idx: list[int]) -> Any:
        xp = get_namespace(steps)
        acts = ctx.acts
        x_in = xp.reshape(acts[self.k], (acts[self.k].shape[0], -1))
        H_out = acts[self.k + 1].shape[1]
        if self.slot == 0:
            rows, cols = idx // H_out, idx % H_out
            delta = xp.take(x_in, rows, axis=1).T * steps[:, None]  # (P, N)
        else:
            cols = idx
            delta = xp.broadcast_to(steps[:, None], (steps.shape[0], x_in.shape[0]))
        if self.next_affine is None:
            z = acts[self.k + 1][None, ...] + delta[:, :, None] * one_hot(cols, H_out, delta.dtype)[:, None, :]
            return _losses(net, z, self.k + 1, ctx)
        col = xp.take(acts[self.k + 1], cols, axis=1).T + delta
        for layer in self.elementwise:
            col = layer.forward_many(col[:, :, None], True)[:, :, 0]
        change = col - xp.take(acts[self.next_affine], cols, axis=1).T  # (P, N)
        W_next = ctx.layers[self.next_affine].params[0]
        if self.to_logits and ctx.one_hot:
            return _rank_one_losses(ctx, change, cols, W_next)
        z = acts[self.next_affine + 1][None, ...] + change[:, :, None] * xp.take(W_next, cols, axis=0)[:, None, :]
        return _losses(net, z, self.next_affine + 1, ctx)


def _rank_one_losses(ctx: _Context, change: Any, cols: Any, W: Any) -> Any:
    """Cross-entropy of logits ``A + change[p, n] * W[cols[p]]`` for every copy ``p``, in ``O(P N)``.

    With ``E = exp(A - max)``, the softmax denominator is ``S = sum_c E[n, c] exp(d w_c)``
    (``d = change[p, n]``, ``w = W[cols[p]]``). Since ``|d w|`` is of the order of ``h``, the
    exponential's series converges at once: ``S = sum_k d**k M_k[n, j]`` with
    ``M_k = E @ (W**k).T / k!``, truncated where the remainder is below 1e-18 of ``S``
    (``S >= 1``), which is below float64 rounding. Large ``|d w|`` falls back to ``exp``.
    """
    xp = get_namespace(change)
    E, mask = ctx.E, ctx.mask
    r = float(xp.max(xp.abs(change))) * float(xp.max(xp.abs(W)))
    n_classes = E.shape[1]
    order, term = 0, 1.0
    while order < 16:
        term *= r / (order + 1)
        if n_classes * term * math.exp(r) < 1e-18:
            break
        order += 1
    w_t = xp.take(W @ mask.T, cols, axis=0)  # (P, N): W[j_p, label of n]
    numerator = xp.sum(E * mask, axis=1) * xp.exp(change * w_t)
    if order >= 16:
        Wc = xp.take(W, cols, axis=0)
        total = xp.sum(E * xp.exp(change[:, :, None] * Wc[:, None, :]), axis=-1)
    else:
        total = xp.zeros_like(change)
        for k in range(order, -1, -1):  # Horner's rule in d
            M_k = (E @ (W**k).T) / math.factorial(k)  # (N, H)
            total = total * change + xp.take(M_k, cols, axis=1).T
    return -xp.sum(xp.log(numerator / total + LOG_EPS), axis=1) / change.shape[1]


class _ConvWeightPlan:
    """``W[f, c, ky, kx]`` of a Convolution: output channel ``f`` moves by ``step * col[:, c, ky, kx]``."""

    def __init__(self, k: int) -> None:
        self.k = k

    def cost(self, ctx: _Context) -> int:
        return _size(ctx.acts[self.k + 1]) * 4

    def losses(self, net: Any, ctx: _Context, idx: Any, steps: Any, host_idx: list[int]) -> Any:
        xp = get_namespace(steps)
        layer = ctx.layers[self.k]
        FN, C, FH, FW = layer.params[0].shape
        out = ctx.acts[self.k + 1]  # (N, FN, OH, OW)
        N, _, OH, OW = out.shape
        col = im2col(ctx.acts[self.k], FH, FW, layer.stride, layer.pad)  # (N*OH*OW, C*FH*FW)
        per_filter = C * FH * FW
        f, kk = idx // per_filter, idx % per_filter
        patch = xp.reshape(xp.take(col, kk, axis=1).T, (-1, N, OH, OW)) * steps[:, None, None, None]
        z = out[None, ...] + patch[:, :, None, :, :] * one_hot(f, FN, out.dtype)[:, None, :, None, None]
        return _losses(net, z, self.k + 1, ctx)


def _size(a: Any) -> int:
    n = 1
    for s in a.shape:
        n *= s
    return n
