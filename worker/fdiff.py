"""Finite differences of the SVM loss along many coordinates of W, computed two ways.

For every coordinate k = (c, d) of W (given as flat C-order indices) and every step h,
``loss_changes`` returns

    delta_plus  = f(W + h e_k) - f(W)        delta_minus = f(W - h e_k) - f(W)

of f = ``svm.svm_loss``; the forward and centered formulas follow from them
(``numerical_from_changes``). The two methods compute the same finite differences and
differ only by rounding:

- ``brute``: the notes' ``eval_numerical_gradient``: perturb one coordinate, evaluate
  the whole loss again (a GEMM, O(N·D·C)), restore. One loss evaluation per coordinate
  and sign.
- ``incremental``: the score function is linear, s = X W^T, so moving W[c, d] by t moves
  only the scores of class c, by t·X[:, d]. For an example with y_n != c only its margin
  m_nc moves (by +t·X_nd); for an example labelled c every margin m_nj, j != c, moves by
  -t·X_nd. The change of f is a sum over those hinges only — O(N) per coordinate instead
  of O(N·D·C) — plus the regularizer's reg·t·(2·W_cd + t), and a whole row of W is
  evaluated with array operations at once. Each hinge change is evaluated as
  max(0, m + u) - max(0, m) = max(u, -m) + min(m, 0), which is exact for a margin that
  stays on one side of its kink (u, or 0) and never subtracts two losses of size |f|.

Both perturb by the same t = (w ± h) - w that a float64 W actually moves by. Work is
float64 whatever W's dtype; the caller's W is never changed.
"""

from __future__ import annotations

import numpy as np

from worker.svm import svm_loss, validate

METHODS = ("incremental", "brute")

#: Values of the largest temporary array of the incremental method (~16 MB of float64).
_BLOCK_VALUES = 1 << 21


def _check(W, X, y, reg, flat, hs, method):
    validate(W, X, y)
    if not (np.isfinite(reg) and reg >= 0):
        raise ValueError(f"reg must be finite and >= 0, got {reg}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    hs = np.asarray(hs, dtype=np.float64).reshape(-1)
    if hs.size == 0 or not (np.isfinite(hs) & (hs > 0)).all():
        raise ValueError(f"every h must be finite and > 0, got {hs.tolist()}")
    flat = np.asarray(flat)
    size = np.asarray(W).size
    if flat.ndim != 1 or flat.dtype.kind not in "iu":
        raise ValueError(f"coordinates must be a 1-D int array of flat indices, got shape {flat.shape} dtype {flat.dtype}")
    if flat.size and (flat.min() < 0 or flat.max() >= size):
        raise ValueError(f"flat indices out of range for W of shape {np.asarray(W).shape} ({size} values)")
    return hs, flat.astype(np.int64)


def loss_changes(W, X, y, reg, flat, hs, *, method="incremental", minus=True):
    """Return an (len(hs), 2, K) float64 array of f(W ± h e_k) - f(W) for the flat indices ``flat``.

    [:, 0] is the + side, [:, 1] the - side (nan when ``minus`` is False: the forward
    formula needs only the + side, one evaluation per coordinate as in the notes).
    """
    hs, flat = _check(W, X, y, reg, flat, hs, method)
    W64 = np.array(W, dtype=np.float64, copy=True)
    X64 = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    out = np.full((len(hs), 2, len(flat)), np.nan)
    if len(flat) == 0:
        return out
    if method == "brute":
        _brute(W64, X64, y, reg, flat, hs, minus, out)
    else:
        _incremental(W64, X64, y, reg, flat, hs, minus, out)
    return out


def _brute(W64, X, y, reg, flat, hs, minus, out):
    f0 = svm_loss(W64, X, y, reg)
    view = W64.reshape(-1)
    signs = (1.0, -1.0) if minus else (1.0,)
    for k, index in enumerate(flat):
        old = view[index]
        for a, h in enumerate(hs):
            for side, sign in enumerate(signs):
                view[index] = old + sign * h
                out[a, side, k] = float(svm_loss(W64, X, y, reg) - f0)
        view[index] = old


def _incremental(W64, X, y, reg, flat, hs, minus, out):
    n, num_features = X.shape
    rows = np.arange(n)
    scores = X @ W64.T
    margins = scores - scores[rows, y][:, None] + 1.0  # (N, C); the y_n column is unused
    signs = (1.0, -1.0) if minus else (1.0,)
    classes, cols = np.divmod(flat, num_features)
    for c in np.unique(classes):
        where = np.flatnonzero(classes == c)
        others = np.flatnonzero(y != c)  # examples whose margin m_nc moves by +t X_nd
        own = np.flatnonzero(y == c)  # examples whose margins m_nj (j != c) move by -t X_nd
        m_a = margins[others, c][:, None]  # (nA, 1)
        m_b = np.delete(margins[own], c, axis=1)[:, :, None]  # (nB, C-1, 1)
        neg_a, low_a = -m_a, np.minimum(m_a, 0.0)
        neg_b, low_b = -m_b, np.minimum(m_b, 0.0)
        block = max(1, _BLOCK_VALUES // max(1, len(others) + m_b.shape[0] * m_b.shape[1]))
        for start in range(0, len(where), block):
            part = where[start : start + block]
            d = cols[part]
            w = W64[c, d]
            x_a = X[np.ix_(others, d)]  # (nA, k)
            x_b = X[np.ix_(own, d)][:, None, :]  # (nB, 1, k)
            buf_a = np.empty_like(x_a)
            u_b = np.empty_like(x_b)
            buf_b = np.empty((m_b.shape[0], m_b.shape[1], len(d)))
            for a, h in enumerate(hs):
                for side, sign in enumerate(signs):
                    t = (w + sign * h) - w  # the step a float64 W really takes
                    np.multiply(x_a, t, out=buf_a)  # u = +t X_nd
                    np.maximum(buf_a, neg_a, out=buf_a)
                    buf_a += low_a
                    np.multiply(x_b, -t, out=u_b)  # u = -t X_nd, the same for every j != c
                    np.maximum(u_b, neg_b, out=buf_b)
                    buf_b += low_b
                    hinge = buf_a.sum(axis=0) + buf_b.sum(axis=(0, 1))
                    out[a, side, part] = hinge / n + reg * t * (2.0 * w + t)


def numerical_from_changes(changes, h, formula):
    """The finite-difference derivative from one h's (2, K) changes: forward Δ+/h, centered (Δ+ − Δ−)/2h."""
    changes = np.asarray(changes, dtype=np.float64)
    if formula == "forward":
        return changes[0] / h
    if formula == "centered":
        return (changes[0] - changes[1]) / (2.0 * h)
    raise ValueError(f"formula must be 'centered' or 'forward', got {formula!r}")


def numerical_gradient_svm(W, X, y, reg, *, h=1e-5, formula="centered", method="incremental"):
    """The full numerical gradient of svm_loss at W (float64, W's shape), in this process."""
    W = np.asarray(W)
    changes = loss_changes(W, X, y, reg, np.arange(W.size), [h], method=method, minus=formula == "centered")
    return numerical_from_changes(changes[0], h, formula).reshape(W.shape)
