"""Multiclass linear SVM (Weston–Watkins hinge, delta = 1) in the CS231n notation.

W is (C, D+1) with the bias trick (the last column of X is all ones), X is (N, D+1),
y is (N,) integer labels in [0, C), scores = X @ W.T is (N, C). With the margins
m_ij = s_j - s_{y_i} + 1 for j != y_i:

    loss = (1/N) * sum_i sum_{j != y_i} max(0, m_ij) + reg * sum(W * W)
    dW   = (1/N) * coef.T @ X + 2 * reg * W

where coef[i, j] = 1[m_ij > 0] for j != y_i and coef[i, y_i] = -sum_{j != y_i} 1[m_ij > 0].
At a kink (m_ij == 0 exactly) the subgradient 0 is used, like the naive loop.

Here the notes' forms: the naive double loop (svm_loss_naive, the test oracle) and the fully
vectorized loss and gradient (svm_loss_grad_notes). The training hot path runs the tuned kernel
beside them (worker.kernel.svm_loss_grad), tested equal. svm_loss, the function finite
differences perturb, returns an np.longdouble so that a centered difference can resolve
gradients of ~1e-6 (see numgrad).
"""

import numpy as np

from worker.data.rows import Rows

#: Values of one (N, columns) block of kink_mask: bounds its memory for any N and W.
_KINK_BLOCK_VALUES = 1 << 21


def validate(W, X, y):
    """Check shapes, dtypes and labels of (W, X, y); raise ValueError naming what is wrong.

    W must be a 2-D float array (C, D+1), X a 2-D array (N, D+1) with the same number of
    columns, y a 1-D integer array (N,) with labels in [0, C).
    """
    W, X, y = np.asarray(W), np.asarray(X), np.asarray(y)
    if W.ndim != 2 or W.dtype.kind != "f":
        raise ValueError(f"W must be a 2-D float array (C, D+1), got shape {W.shape} dtype {W.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N, D+1), got shape {X.shape}")
    if X.shape[1] != W.shape[1]:
        raise ValueError(
            f"W has shape {W.shape} and X has shape {X.shape}: "
            f"W.shape[1] ({W.shape[1]}) must equal X.shape[1] ({X.shape[1]})"
        )
    if X.shape[0] == 0:
        raise ValueError(f"X has no examples: shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y has shape {y.shape}, expected ({X.shape[0]},) to match X of shape {X.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if not _labels_in_range(y, W.shape[0]):
        lo, hi = int(y.min()), int(y.max())
        raise ValueError(f"labels must be in [0, {W.shape[0]}) for W of shape {W.shape}, got range [{lo}, {hi}]")


def _labels_in_range(y, classes):
    """True when every integer label is in [0, classes): one reduction, nothing allocated.

    A signed array is read as unsigned of the same width, so a negative label is a huge one.
    """
    if y.size == 0:
        return True
    unsigned = y if y.dtype.kind == "u" else y.view(f"u{y.dtype.itemsize}")
    return int(unsigned.max()) < classes


def check_reg(reg):
    """reg must be finite and >= 0; else ValueError."""
    if not np.isfinite(reg) or reg < 0:
        raise ValueError(f"reg must be finite and >= 0, got {reg}")


def svm_loss_grad_notes(W, X, y, reg):
    """Return (loss, dW) as the notes write them, fully vectorized, in float64.

    The reference the tuned kernel (worker.kernel.svm_loss_grad) is tested equal to.
    """
    validate(W, X, y)
    check_reg(reg)
    W, X, y = np.asarray(W, dtype=np.float64), np.asarray(X, dtype=np.float64), np.asarray(y)
    n, every = X.shape[0], np.arange(X.shape[0])
    scores = X @ W.T
    margins = np.maximum(0, scores - scores[every, y][:, None] + 1)
    margins[every, y] = 0
    loss = margins.sum() / n + reg * np.sum(W * W)
    coef = (margins > 0).astype(np.float64)
    coef[every, y] = -coef.sum(axis=1)
    dW = coef.T @ X / n + 2 * reg * W
    return loss, dW


def svm_loss(W, X, y, reg):
    """Return the SVM loss only, as an np.longdouble: the f that finite differences perturb.

    One GEMM in W's dtype gives the scores; the hinge and reg sums are then accumulated
    in extended precision (np.longdouble: 64-bit mantissa on x86-64 Linux, plain float64
    on platforms without it). A centered difference with h = 1e-5 of a loss ~9 sees a
    gradient g as a change of 2e-5 g, but float64 rounds the loss itself to ~1e-15, so a
    gradient of 1e-5 would get a relative error ~1e-5. float() the result to display it.
    """
    check_reg(reg)
    if isinstance(X, Rows):  # the hinge summed block by block, never joined into one array
        total = np.longdouble(0)
        for block, labels in _checked_blocks(W, X, y):
            total += _hinge_total(W, block, labels)
        return total / len(X) + reg * np.square(W, dtype=np.longdouble).sum()
    validate(W, X, y)
    return _hinge_total(W, X, y) / X.shape[0] + reg * np.square(W, dtype=np.longdouble).sum()


def _checked_blocks(W, rows, y):
    """(block, its labels) for each block of a worker.data.rows.Rows, each pair validated with W."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(rows):
        raise ValueError(f"X has {len(rows)} rows and y has shape {y.shape}: need y of shape ({len(rows)},)")
    for first, block in rows.blocks():
        labels = y[first:first + len(block)]
        validate(W, block, labels)
        yield block, labels


def _hinge_total(W, X, y):
    """sum_i sum_{j != y_i} max(0, m_ij) as an np.longdouble (svm_loss's data term times N)."""
    X = X if X.dtype == W.dtype else X.astype(W.dtype)
    rows = np.arange(X.shape[0])
    scores = (X @ W.T).astype(np.longdouble)
    diffs = scores - scores[rows, y][:, None]  # margin - 1
    diffs[rows, y] = -np.inf
    active = diffs > -1
    # sum(max(0, margin)) = (number of active margins) + sum of their diffs: the big
    # integer part is exact, the small part keeps its low-order bits.
    return np.count_nonzero(active) + diffs[active].sum()


def svm_loss_naive(W, X, y, reg):
    """Return (loss, dW) with an explicit double loop over examples and classes.

    The straightforward transcription of the definition; a test oracle only.
    """
    validate(W, X, y)
    check_reg(reg)
    num_classes, n = W.shape[0], X.shape[0]
    loss, dW = 0.0, np.zeros_like(W)
    for i in range(n):
        scores = W @ X[i]
        correct = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct + 1
            if margin > 0:
                loss += margin
                dW[j] += X[i]
                dW[y[i]] -= X[i]
    loss = float(loss) / n + reg * float(np.sum(W * W))
    dW = dW / n + 2 * reg * W
    return loss, dW


def predict(W, X):
    """Return the predicted class (N,) int64: the argmax of the scores X @ W.T."""
    W, X = np.asarray(W), np.asarray(X)
    if W.ndim != 2 or X.ndim != 2 or W.shape[1] != X.shape[1]:
        raise ValueError(f"W has shape {W.shape} and X has shape {X.shape}: need (C, D+1) and (N, D+1)")
    return np.argmax(X @ W.T, axis=1)


def accuracy(W, X, y):
    """Return the fraction of examples whose predicted class equals y.

    X may be a worker.data.rows.Rows: counted block by block, never joined into one array.
    """
    if isinstance(X, Rows):
        correct = sum(int(np.count_nonzero(predict(W, block) == labels)) for block, labels in _checked_blocks(W, X, y))
        return correct / len(X)
    validate(W, X, y)
    return float(np.mean(predict(W, X) == y))


def kink_mask(W, X, y, coords, h):
    """Return a bool (K,) array: True where perturbing W[c, d] by +-h crosses a hinge kink.

    Moving W[c, d] by t moves s_c by t * X[i, d]. For an example with y_i != c only the
    margin m_ic moves (by t * X[i, d]); for y_i == c every margin m_ij, j != c, moves by
    -t * X[i, d]. A margin m crosses 0 within |t| <= h iff |m| <= h * |X[i, d]| and
    X[i, d] != 0. Computed in float64; coords is an int array (K, 2) of (c, d), evaluated a
    row of W at a time (O(N) per coordinate, vectorized: a full 10 x 3073 W in milliseconds).
    """
    validate(W, X, y)
    y = np.asarray(y)
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"h must be finite and > 0, got {h}")
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2 or coords.dtype.kind not in "iu":
        raise ValueError(f"coords must be an int array (K, 2), got shape {coords.shape} dtype {coords.dtype}")
    if len(coords) and ((coords < 0).any() or (coords >= np.asarray(W).shape).any()):
        raise ValueError(f"coords out of range for W of shape {np.asarray(W).shape}")
    W64 = np.asarray(W, dtype=np.float64)
    X64 = np.asarray(X, dtype=np.float64)
    rows = np.arange(X64.shape[0])
    margins = X64 @ W64.T  # hinge margins, 0 at the correct class
    margins -= margins[rows, y][:, None]
    margins += 1
    margins[rows, y] = 0
    absm = np.abs(margins)
    absm[rows, y] = np.inf  # the correct class has no margin of its own
    nearest_other = absm.min(axis=1)  # closest margin to 0 among j != y_i
    mask = np.zeros(len(coords), dtype=bool)
    block = max(1, _KINK_BLOCK_VALUES // X64.shape[0])
    for c in np.unique(coords[:, 0]):  # every coordinate of one row of W at once
        where = np.flatnonzero(coords[:, 0] == c)
        m = np.where(y == c, nearest_other, absm[:, c])[:, None]
        for start in range(0, len(where), block):
            part = where[start : start + block]
            reach = h * np.abs(X64[:, coords[part, 1]])
            mask[part] = np.any((m <= reach) & (reach > 0), axis=0)
    return mask
