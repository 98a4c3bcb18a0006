"""Numerical gradients, relative error and the sparse gradient check of the CS231n notes.

A finite difference is always taken on a private float64 copy of W: the caller's W is
never mutated, and float32 differences would be rounding noise.

Error budget of one coordinate, for a loss f with second derivative f'' evaluated with
relative precision eps_f:

- centered [f(w+h) - f(w-h)] / 2h: truncation O(h^2 f'''), rounding ~ eps_f |f| / h;
- forward  [f(w+h) - f(w)] / h:    truncation h f'' / 2,   rounding ~ eps_f |f| / h.

For the SVM, f'' along any coordinate is 2 reg away from kinks (the hinge part is
piecewise linear), so the forward formula carries an extra absolute error h * reg per
coordinate (relative: h * reg / (2 |grad|)) and is judged against a looser threshold.

Rounding: with |f| ~ 9 (the SVM with 10 classes and a small W) and h = 1e-5, a float64 f
(eps 2.2e-16) resolves derivatives only to ~1e-10, so a gradient of 1e-5 would get a
relative error ~1e-5. The difference is therefore taken in f's own precision, and
svm.svm_loss returns an np.longdouble (eps 1.1e-19 on x86-64): good to ~1e-13.
"""

from dataclasses import dataclass

import numpy as np

FORMULAS = ("centered", "forward")

#: Pass thresholds on the largest smooth relative error. Centered: the notes' "< 1e-7 you
#: should be happy". Forward: its O(h) truncation h * reg / (2 |grad|) reaches ~2e-4 on
#: the smallest resolvable SVM gradients (~3e-7) at reg = 1e-5, so it is allowed the
#: notes' "uncomfortable" band up to 1e-3 (a wrong gradient is usually off by 1e-2 or more).
THRESHOLDS = {"centered": 1e-7, "forward": 1e-3}

#: A coordinate is below resolution when |analytic| + |numeric| < RESOLUTION_FACTOR *
#: eps64 * max(|f|, 1) / h: ~6e-7 for the SVM's |f| ~ 9 at h = 1e-5, so the flag can only
#: hide absolute errors under 1e-6. Calibrated on digits and MNIST batches (26,000
#: coordinates, extended-precision svm_loss): above this bound no smooth coordinate had
#: a centered relative error over 9.1e-8, while with 1e3 (bound 2e-7) up to ~5% of
#: 20-coordinate checks failed (reg 1e-4) on gradients of 2e-7 ... 5e-7: columns constant
#: in the batch, or 2 * reg * W alone on always-blank pixels.
RESOLUTION_FACTOR = 3e3


def rel_error(a, n, tiny=1e-300):
    """Return |a - n| / max(|a| + |n|, tiny), elementwise (a float for scalar inputs)."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    err = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), tiny)
    return float(err) if err.ndim == 0 else err


def _check_args(h, formula):
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"h must be finite and > 0, got {h}")
    if formula not in FORMULAS:
        raise ValueError(f"formula must be one of {FORMULAS}, got {formula!r}")


def _difference(f, W64, index, h, formula, fx):
    """Finite difference of f at W64 along index; perturbs W64 in place and restores it.

    The difference is taken in f's own precision (f may return np.longdouble) before
    the result is converted to float.
    """
    old = W64[index]
    W64[index] = old + h
    f_plus = f(W64)
    if formula == "centered":
        W64[index] = old - h
        f_minus = f(W64)
    W64[index] = old
    if formula == "forward":
        f_minus = f(W64) if fx is None else fx
    return float((f_plus - f_minus) / (2 * h if formula == "centered" else h))


def numerical_gradient_at(f, W, index, h=1e-5, formula="centered", fx=None):
    """Return the finite-difference derivative of f at W along the coordinate index.

    centered: [f(W + h e) - f(W - h e)] / 2h; forward: [f(W + h e) - f(W)] / h, where
    fx = f(W) may be passed in to save an evaluation. f is called on a float64 copy of W.
    """
    _check_args(h, formula)
    W64 = np.array(W, dtype=np.float64, copy=True)
    return _difference(f, W64, tuple(int(i) for i in index), h, formula, fx)


def numerical_gradient(f, W, h=1e-5, formula="centered"):
    """Return the full numerical gradient (float64, W's shape), one coordinate at a time.

    Costs one or two evaluations of f per element of W: small W only (tests).
    """
    _check_args(h, formula)
    W64 = np.array(W, dtype=np.float64, copy=True)
    fx = f(W64) if formula == "forward" else None
    grad = np.zeros_like(W64)
    for index in np.ndindex(W64.shape):
        grad[index] = _difference(f, W64, index, h, formula, fx)
    return grad


@dataclass(frozen=True)
class CoordinateCheck:
    """One checked coordinate W[c, d]: both gradients, their relative error and flags."""

    c: int
    d: int
    analytic: float
    numeric: float
    rel_error: float
    kink: bool  # perturbing by +-h crosses a hinge kink
    below_resolution: bool  # |analytic| + |numeric| under the rounding floor

    @property
    def smooth(self):
        """True if this coordinate counts towards max_rel_error_smooth."""
        return not (self.kink or self.below_resolution)


@dataclass(frozen=True)
class GradCheckResult:
    """Outcome of grad_check_sparse.

    max_rel_error is over all checks; max_rel_error_smooth excludes kink and
    below-resolution coordinates and is nan when no coordinate is smooth (then passed is
    False). passed = at least one smooth coordinate and max_rel_error_smooth < threshold.
    resolution is the |analytic| + |numeric| bound under which a coordinate is
    below_resolution.
    """

    formula: str
    h: float
    loss: float
    checks: tuple  # of CoordinateCheck, in sampling order
    max_rel_error: float
    max_rel_error_smooth: float
    threshold: float
    resolution: float
    passed: bool

    @property
    def num_smooth(self):
        """Number of coordinates neither on a kink nor below resolution."""
        return sum(ch.smooth for ch in self.checks)

    @property
    def num_kink(self):
        """Number of coordinates whose +-h perturbation crosses a kink."""
        return sum(ch.kink for ch in self.checks)

    @property
    def num_below_resolution(self):
        """Number of coordinates whose gradient is under the rounding floor."""
        return sum(ch.below_resolution for ch in self.checks)

    @property
    def mean_rel_error_smooth(self):
        """Mean relative error over smooth coordinates (nan when there are none)."""
        smooth = [ch.rel_error for ch in self.checks if ch.smooth]
        return float(np.mean(smooth)) if smooth else float("nan")

    @property
    def max_rel_error_kink(self):
        """Largest relative error among kink coordinates (nan when there are none)."""
        kinks = [ch.rel_error for ch in self.checks if ch.kink]
        return max(kinks) if kinks else float("nan")

    @property
    def max_abs_error_below_resolution(self):
        """Largest |analytic - numeric| among below-resolution coordinates (nan when none).

        Always under ``resolution``: there the two can only be compared absolutely.
        """
        below = [abs(ch.analytic - ch.numeric) for ch in self.checks if ch.below_resolution and not ch.kink]
        return max(below) if below else float("nan")

    @property
    def max_abs_error_smooth(self):
        """Largest |analytic - numeric| over smooth coordinates (nan when none)."""
        smooth = [abs(ch.analytic - ch.numeric) for ch in self.checks if ch.smooth]
        return max(smooth) if smooth else float("nan")

    @property
    def min_abs_gradient_smooth(self):
        """Smallest |analytic| over smooth coordinates (nan when none)."""
        smooth = [abs(ch.analytic) for ch in self.checks if ch.smooth]
        return min(smooth) if smooth else float("nan")


def resolution_bound(loss, h):
    """Return the |analytic| + |numeric| floor under which a finite difference says nothing."""
    return RESOLUTION_FACTOR * np.finfo(np.float64).eps * max(abs(loss), 1.0) / h


def grad_check_sparse(f, W, analytic, checks, rng, h=1e-5, formula="centered", kink_fn=None):
    """Compare analytic[c, d] with the numerical derivative of f at `checks` random coordinates.

    f maps a float64 array shaped like W to a real number (float, or np.longdouble for
    extra precision, like svm.svm_loss). Coordinates are distinct, sampled without
    replacement by rng (a np.random.Generator), at most W.size of them. Runs in float64
    whatever W's dtype (pass analytic computed in float64); W is never mutated.
    kink_fn(coords, h) -> bool (K,) marks coordinates whose perturbation crosses a kink
    (None: no kinks), e.g. functools.partial(svm.kink_mask, W, X, y).
    """
    _check_args(h, formula)
    W64 = np.array(W, dtype=np.float64, copy=True)
    analytic = np.asarray(analytic, dtype=np.float64)
    if W64.ndim != 2 or analytic.shape != W64.shape:
        raise ValueError(f"W must be 2-D and analytic must match it: W {W64.shape}, analytic {analytic.shape}")
    if int(checks) < 1:
        raise ValueError(f"checks must be >= 1, got {checks}")
    k = min(int(checks), W64.size)
    flat = rng.choice(W64.size, size=k, replace=False)
    coords = np.stack(np.unravel_index(flat, W64.shape), axis=1).astype(np.int64)
    kinks = np.zeros(k, dtype=bool) if kink_fn is None else np.asarray(kink_fn(coords, h), dtype=bool)
    if kinks.shape != (k,):
        raise ValueError(f"kink_fn returned shape {kinks.shape}, expected ({k},)")
    fx = f(W64)
    numeric = np.array([_difference(f, W64, (c, d), h, formula, fx) for c, d in coords], dtype=np.float64)
    return make_result(formula, h, float(fx), coords, analytic[coords[:, 0], coords[:, 1]], numeric, kinks)


def make_result(formula, h, loss, coords, analytic, numeric, kinks):
    """Build the GradCheckResult of checked coordinates from their values (vectorized).

    coords is an int (K, 2) array of (c, d); analytic, numeric (K,) floats; kinks (K,)
    bools. Below-resolution flags use resolution_bound(loss, h); passed and the
    thresholds are those of grad_check_sparse.
    """
    _check_args(h, formula)
    coords = np.asarray(coords, dtype=np.int64).reshape(-1, 2)
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    kinks = np.asarray(kinks, dtype=bool)
    if not (len(coords) == analytic.shape[0] == numeric.shape[0] == kinks.shape[0]) or len(coords) == 0:
        raise ValueError(
            f"need as many (>= 1) coords, analytic, numeric and kink values: got {len(coords)}, "
            f"{analytic.shape}, {numeric.shape}, {kinks.shape}"
        )
    floor = resolution_bound(loss, h)
    errors = rel_error(analytic, numeric)
    errors = np.atleast_1d(errors)
    below = np.abs(analytic) + np.abs(numeric) < floor
    smooth = ~(kinks | below)
    max_smooth = float(errors[smooth].max()) if smooth.any() else float("nan")
    threshold = THRESHOLDS[formula]
    checks = tuple(
        CoordinateCheck(c=c, d=d, analytic=a, numeric=n, rel_error=e, kink=k, below_resolution=b)
        for (c, d), a, n, e, k, b in zip(
            coords.tolist(), analytic.tolist(), numeric.tolist(), errors.tolist(), kinks.tolist(), below.tolist()
        )
    )
    return GradCheckResult(
        formula=formula, h=float(h), loss=float(loss), checks=checks,
        max_rel_error=float(errors.max()),
        max_rel_error_smooth=max_smooth, threshold=threshold, resolution=floor,
        passed=bool(smooth.any()) and max_smooth < threshold,
    )
