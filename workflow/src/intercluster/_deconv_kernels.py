"""Numba kernels of the isotope-pattern deconvolution (see :mod:`intercluster.deconvolution`).

The design matrix is never formed densely. Each pattern (column) is a contiguous segment
of the spectrum's points; the normal equations are built from segment overlaps only and
solved by a Gram-form Lawson-Hanson NNLS with a warm start.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SQRT_2PI = np.sqrt(2.0 * np.pi)
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


@njit(cache=True, fastmath=True)
def _sigma_per_mz(c, k_sig, r_slope, mz_ref):
    """sd / m/z at centre ``c``: FWHM = c / R(c), R(c) = R (1 + slope (c - mz_ref) / 1000)."""
    rel = 1.0 + r_slope * (c - mz_ref) * 1e-3
    return k_sig / max(rel, 1e-3)


@njit(cache=True)
def tail_at(c, tail, tail_slope, mz_ref):
    """The EMG tail (tau / sigma) at centre ``c``: ``tail (1 + tail_slope (c - mz_ref) /
    1000)``, at least 0; below ``MIN_TAIL`` the Gaussian (0)."""
    t = tail * (1.0 + tail_slope * (c - mz_ref) * 1e-3)
    return t if t >= MIN_TAIL else 0.0


#: below this tail (tau / sigma) the peak is drawn as the Gaussian it tends to (the EMG's
#: erfcx argument 1/(sqrt 2 tail) would exceed the asymptotic form's accuracy range anyway)
MIN_TAIL = 1e-3
#: a tail reaches 1e-5 of its top about 11.5 tau beyond the core
TAIL_REACH = 11.5
INV_SQRT_PI = 1.0 / np.sqrt(np.pi)
#: erfcx from exp(x^2) erfc(x) below this, the asymptotic series above (exp(x^2) < 1e294)
ERFCX_SERIES_FROM = 26.0


@njit(cache=True, fastmath=True)
def _erfcx(x):
    """exp(x^2) erfc(x), the scaled complementary error function.

    Hand-written because numba compiles no ``scipy.special`` call and ``scipy.special.erfcx``
    per point would leave the kernel: ``math.erfc`` where ``exp(x^2)`` stays finite and
    the product accurate (below ``ERFCX_SERIES_FROM``), the asymptotic series (relative
    error < 1e-10 there) above.
    """
    if x < ERFCX_SERIES_FROM:
        return np.exp(x * x) * math.erfc(x)
    inv = 1.0 / (x * x)
    return INV_SQRT_PI / x * (1.0 - 0.5 * inv + 0.75 * inv * inv - 1.875 * inv * inv * inv)


@njit(cache=True, fastmath=True)
def peak_value(u, tail):
    """Unit-area peak shape at ``u = (m/z - core) / sigma`` (per sigma), and d/du.

    ``tail`` 0: the Gaussian. Else the exponentially modified Gaussian (Gaussian core
    convolved with an exponential of decay constant ``tail`` sigma towards higher m/z) in
    its overflow-free form ``exp(-u^2/2) erfcx((1/tail - u)/sqrt 2) / (2 tail)`` (in the
    far tail ``exp(1/(2 tail^2) - u/tail) erfc(.) / (2 tail)``); its derivative is
    ``exp(-u^2/2) sqrt(2/pi) / (2 tail) - f / tail``.
    """
    gauss = np.exp(-0.5 * u * u)
    if tail < MIN_TAIL:
        g = gauss / SQRT_2PI
        return g, -u * g
    x = (1.0 / tail - u) / np.sqrt(2.0)
    half = 0.5 / tail
    if x >= 0.0:
        f = half * gauss * _erfcx(x)
    else:
        # far in the tail exp(x^2) overflows: exp(-u^2/2 + x^2) is the tail's own decay
        f = half * np.exp(0.5 / (tail * tail) - u / tail) * math.erfc(x)
    return f, half * gauss * np.sqrt(2.0 / np.pi) - f / tail


@njit(cache=True, fastmath=True)
def build_columns(
    mz, width, peak_mz, peak_prob, col_ptr, shift_ppm, resolving_power, n_sigma,
    r_slope=0.0, mz_ref=0.0, tail=0.0, tail_slope=0.0,
):  # fmt: skip
    """Pattern columns on the points ``mz`` as segments, plus their shift derivative.

    Peaks of column k are ``col_ptr[k]:col_ptr[k+1]`` (ascending m/z). Returns
    ``starts, ends, seg_ptr, values, deriv``: column k covers points ``starts[k]:ends[k]``
    with values ``values[seg_ptr[k]:seg_ptr[k+1]]``; ``deriv`` is d(values)/d(shift_ppm).
    The resolving power at m/z c is ``resolving_power (1 + r_slope (c - mz_ref) / 1000)``
    (constant for ``r_slope`` 0); it sets the sd ``sigma`` of the Gaussian core (FWHM
    c / R). ``tail``: the exponential tail of an EMG peak (:func:`peak_value`) as a multiple
    of sigma (0: Gaussian). The peak's centroid (its mean, core + tail sigma) sits at the
    shifted nominal m/z, so the calibration refers to the centroid whatever the shape.
    ``tail_slope``: the tail's relative change per 1000 Th about ``mz_ref`` (:func:`tail_at`).
    """
    n_cols = col_ptr.shape[0] - 1
    scale = 1.0 + shift_ppm * 1e-6
    k_sig = FWHM_TO_SIGMA / resolving_power
    starts = np.zeros(n_cols, np.int64)
    ends = np.zeros(n_cols, np.int64)
    seg_ptr = np.zeros(n_cols + 1, np.int64)
    for k in range(n_cols):
        p0, p1 = col_ptr[k], col_ptr[k + 1] - 1
        c0 = peak_mz[p0] * scale
        c1 = peak_mz[p1] * scale
        s0 = _sigma_per_mz(c0, k_sig, r_slope, mz_ref)
        s1 = _sigma_per_mz(c1, k_sig, r_slope, mz_ref)
        # the tail is linear in m/z: its larger end value reaches furthest
        t = max(tail_at(c0, tail, tail_slope, mz_ref), tail_at(c1, tail, tail_slope, mz_ref))
        starts[k] = np.searchsorted(mz, c0 - (n_sigma + t) * c0 * s0)
        ends[k] = np.searchsorted(mz, c1 + (n_sigma + TAIL_REACH * t) * c1 * s1)
        if ends[k] < starts[k]:
            ends[k] = starts[k]
        seg_ptr[k + 1] = seg_ptr[k] + ends[k] - starts[k]
    values = np.zeros(seg_ptr[n_cols])
    deriv = np.zeros(seg_ptr[n_cols])
    for k in range(n_cols):
        base = seg_ptr[k] - starts[k]
        for p in range(col_ptr[k], col_ptr[k + 1]):
            c = peak_mz[p] * scale
            sig = c * _sigma_per_mz(c, k_sig, r_slope, mz_ref)
            t = tail_at(c, tail, tail_slope, mz_ref)
            core = c - t * sig  # the EMG's mean is core + tail sigma
            lo = np.searchsorted(mz, core - n_sigma * sig)
            hi = np.searchsorted(mz, core + (n_sigma + TAIL_REACH * t) * sig)
            norm = peak_prob[p] / sig
            dcdshift = peak_mz[p] * 1e-6
            for i in range(lo, hi):
                u = (mz[i] - core) / sig
                f, dfdu = peak_value(u, t)
                values[base + i] += norm * f * width[i]
                deriv[base + i] -= norm * dfdu * width[i] / sig * dcdshift
    return starts, ends, seg_ptr, values, deriv


@njit(cache=True)
def subset_columns(starts, ends, seg_ptr, values, deriv, use):
    """The columns of :func:`build_columns` restricted to the points where ``use`` is True.

    Point indices are renumbered to the kept points; each column stays one segment.
    """
    n = use.shape[0]
    kept_before = np.zeros(n + 1, np.int64)
    for i in range(n):
        kept_before[i + 1] = kept_before[i] + (1 if use[i] else 0)
    n_cols = starts.shape[0]
    new_starts = np.zeros(n_cols, np.int64)
    new_ends = np.zeros(n_cols, np.int64)
    new_ptr = np.zeros(n_cols + 1, np.int64)
    for k in range(n_cols):
        new_starts[k] = kept_before[starts[k]]
        new_ends[k] = kept_before[ends[k]]
        new_ptr[k + 1] = new_ptr[k] + new_ends[k] - new_starts[k]
    new_values = np.empty(new_ptr[n_cols])
    new_deriv = np.empty(new_ptr[n_cols])
    for k in range(n_cols):
        out = new_ptr[k]
        for i in range(starts[k], ends[k]):
            if use[i]:
                new_values[out] = values[seg_ptr[k] + i - starts[k]]
                new_deriv[out] = deriv[seg_ptr[k] + i - starts[k]]
                out += 1
    return new_starts, new_ends, new_ptr, new_values, new_deriv


@njit(cache=True)
def normal_equations(starts, ends, seg_ptr, values, deriv, delta, y, w, baseline):
    """Weighted normal equations G = A'WA, b = A'Wy (plus a constant baseline column).

    The columns are ``values + delta * deriv``: built at one shift and moved by ``delta``
    ppm to first order, so that small shift steps need no rebuild. ``w``: point weights.
    """
    n_cols = starts.shape[0]
    m = n_cols + 1 if baseline else n_cols
    gram = np.zeros((m, m))
    rhs = np.zeros(m)
    for k in range(n_cols):
        sk, ek, ok = starts[k], ends[k], seg_ptr[k]
        acc = 0.0
        tot = 0.0
        for i in range(sk, ek):
            v = (values[ok + i - sk] + delta * deriv[ok + i - sk]) * w[i]
            acc += v * y[i]
            tot += v
        rhs[k] = acc
        if baseline:
            gram[k, n_cols] = tot
            gram[n_cols, k] = tot
        for q in range(k, n_cols):
            lo = max(sk, starts[q])
            hi = min(ek, ends[q])
            if hi <= lo:
                continue
            oq = seg_ptr[q]
            acc = 0.0
            for i in range(lo, hi):
                a = ok + i - sk
                b = oq + i - starts[q]
                acc += (values[a] + delta * deriv[a]) * (values[b] + delta * deriv[b]) * w[i]
            gram[k, q] = acc
            gram[q, k] = acc
    if baseline:
        gram[n_cols, n_cols] = w.sum()
        rhs[n_cols] = (w * y).sum()
    return gram, rhs


@njit(cache=True)
def _cholesky(a):
    """``(L, ok)``: the lower Cholesky factor of a symmetric ``a`` (its lower triangle
    written; the upper keeps ``a``'s values, unread); ``ok`` is False when rounding leaves
    ``a`` indefinite (a pivot <= 0). Shared by the solve and the inverse's diagonal."""
    n = a.shape[0]
    low = a.copy()
    for j in range(n):
        d = low[j, j]
        for k in range(j):
            d -= low[j, k] * low[j, k]
        if d <= 0.0:
            return low, False
        d = np.sqrt(d)
        low[j, j] = d
        for i in range(j + 1, n):
            v = low[i, j]
            for k in range(j):
                v -= low[i, k] * low[j, k]
            low[i, j] = v / d
    return low, True


@njit(cache=True)
def _lu_solve(a, b):
    """Solve ``a x = b`` by Gaussian elimination with partial pivoting (LAPACK's dgesv
    algorithm). Written out, not ``np.linalg.solve``: numba's LAPACK binding takes about 4 s
    to compile, paid by every first deconvolution of a fresh checkout, for a fallback that
    runs only when rounding leaves a Gram matrix indefinite."""
    n = b.shape[0]
    m = a.copy()
    x = b.copy()
    for k in range(n):
        p = k
        for i in range(k + 1, n):
            if abs(m[i, k]) > abs(m[p, k]):
                p = i
        if p != k:
            for j in range(n):
                m[k, j], m[p, j] = m[p, j], m[k, j]
            x[k], x[p] = x[p], x[k]
        if m[k, k] == 0.0:
            raise np.linalg.LinAlgError("Singular matrix")
        for i in range(k + 1, n):
            f = m[i, k] / m[k, k]
            for j in range(k, n):
                m[i, j] -= f * m[k, j]
            x[i] -= f * x[k]
    return _back_substitution(m, x)


@njit(cache=True)
def _back_substitution(upper, z):
    """Solve ``upper x = z`` for an upper triangular ``upper`` (a transposed Cholesky
    factor is one: the same operations in the same order as indexing the factor itself)."""
    n = z.shape[0]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):
        v = z[i]
        for k in range(i + 1, n):
            v -= upper[i, k] * x[k]
        x[i] = v / upper[i, i]
    return x


@njit(cache=True)
def _spd_solve(a, b):
    """Solve ``a x = b`` for a symmetric positive definite ``a`` (a Gram matrix with its
    ridge) by Cholesky: half the work of the general LU solve, which the active-set
    iterations repeat several times per fit. LU when rounding leaves ``a`` indefinite."""
    n = b.shape[0]
    low, ok = _cholesky(a)
    if not ok:
        return _lu_solve(a, b)
    z = np.empty(n)
    for i in range(n):
        v = b[i]
        for k in range(i):
            v -= low[i, k] * z[k]
        z[i] = v / low[i, i]
    return _back_substitution(low.T, z)


@njit(cache=True)
def spd_inverse_diagonal(a):
    """The diagonal of ``a``'s inverse for a symmetric positive definite ``a`` (Cholesky
    ``a = L L'``, then ``(a^-1)_ii = sum_k ((L^-1)_ki)^2``). Here, not scipy's: on matrices
    of a few hundred columns LAPACK's call starts BLAS threads that cost more than the
    whole spectrum's fit. Returns NaNs when rounding leaves ``a`` indefinite."""
    n = a.shape[0]
    low, ok = _cholesky(a)
    if not ok:
        return np.full(n, np.nan)
    # columns of L^-1 by forward substitution, squared and summed row-wise into the diagonal
    out = np.zeros(n)
    z = np.empty(n)
    for c in range(n):
        for i in range(c):
            z[i] = 0.0
        for i in range(c, n):
            v = 1.0 if i == c else 0.0
            for k in range(c, i):
                v -= low[i, k] * z[k]
            z[i] = v / low[i, i]
            out[c] += z[i] * z[i]
    return out


@njit(cache=True)
def _solve_subset(gram, rhs, passive):
    idx = np.nonzero(passive)[0]
    n = idx.shape[0]
    sub = np.empty((n, n))
    b = np.empty(n)
    for a in range(n):
        b[a] = rhs[idx[a]]
        for c in range(n):
            sub[a, c] = gram[idx[a], idx[c]]
    # Tiny ridge: a column that sees no points (pattern outside the m/z range) stays 0.
    for a in range(n):
        sub[a, a] += 1e-12 * (sub[a, a] + 1.0)
    s = _spd_solve(sub, b)
    out = np.zeros(rhs.shape[0])
    for a in range(n):
        out[idx[a]] = s[a]
    return out


@njit(cache=True)
def nnls_gram(gram, rhs, passive0, max_iter=500):
    """min ||Ax - y|| s.t. x >= 0 from G = A'A, b = A'y (Lawson-Hanson, warm start).

    ``passive0`` is a guess of the support (e.g. the previous spectrum's); it is pruned to a
    feasible start before the standard active-set iterations.
    """
    n = rhs.shape[0]
    passive = passive0.copy()
    x = np.zeros(n)
    # Feasible warm start: solve on the guessed support, drop negatives, repeat.
    for _ in range(n):
        if not passive.any():
            break
        s = _solve_subset(gram, rhs, passive)
        bad = False
        for j in range(n):
            if passive[j] and s[j] <= 0.0:
                passive[j] = False
                bad = True
        if not bad:
            x = s
            break
    if not passive.any():
        x[:] = 0.0
    scale = np.abs(rhs).max() + 1e-300
    tol = 1e-10 * scale
    for _ in range(max_iter):
        w = rhs - gram @ x
        jmax = -1
        wmax = tol
        for j in range(n):
            if not passive[j] and w[j] > wmax:
                wmax = w[j]
                jmax = j
        if jmax < 0:
            break
        passive[jmax] = True
        for _inner in range(n + 1):
            s = _solve_subset(gram, rhs, passive)
            ok = True
            for j in range(n):
                if passive[j] and s[j] <= 0.0:
                    ok = False
                    break
            if ok:
                x = s
                break
            alpha = 1.0
            for j in range(n):
                if passive[j] and s[j] <= 0.0:
                    denom = x[j] - s[j]
                    if denom > 0:
                        a = x[j] / denom
                        if a < alpha:
                            alpha = a
            for j in range(n):
                if passive[j]:
                    x[j] = x[j] + alpha * (s[j] - x[j])
                    if x[j] <= 1e-12 * scale:
                        x[j] = 0.0
                        passive[j] = False
    for j in range(n):
        if not passive[j]:
            x[j] = 0.0
    return x, passive


@njit(cache=True)
def model_and_shift_step(starts, ends, seg_ptr, values, deriv, delta, coef, y, w, baseline):
    """Weighted residual sum of squares and the Gauss-Newton step of the shift (fixed coef).

    Columns as in :func:`normal_equations` (``values + delta * deriv``). Also returns the
    model (patterns plus baseline) at every point.
    """
    n_cols = starts.shape[0]
    n = y.shape[0]
    model = np.zeros(n)
    dmodel = np.zeros(n)
    for k in range(n_cols):
        a = coef[k]
        if a == 0.0:
            continue
        sk, ok = starts[k], seg_ptr[k]
        for i in range(sk, ends[k]):
            model[i] += a * (values[ok + i - sk] + delta * deriv[ok + i - sk])
            dmodel[i] += a * deriv[ok + i - sk]
    b0 = coef[n_cols] if baseline else 0.0
    rss = 0.0
    num = 0.0
    den = 0.0
    for i in range(n):
        model[i] += b0
        r = y[i] - model[i]
        rss += w[i] * r * r
        num += w[i] * dmodel[i] * r
        den += w[i] * dmodel[i] * dmodel[i]
    step = num / den if den > 0 else 0.0
    return rss, step, model
