"""Numba kernels of the fast simulator (see :func:`intercluster.simulate.simulate`).

Method: RODAS4 of Hairer & Wanner (Solving ODEs II, 2nd ed., 1996, code ``rodas.f``),
a 6-stage linearly implicit Rosenbrock method of order 4 with an embedded order-3 error
estimate, stiffly accurate and L-stable, with a continuous extension of order 3 for dense
output. Rosenbrock methods use the exact Jacobian and need no Newton iteration; every
stage is one linear solve with the same matrix ``W = I/(gamma h) - J``. Linear invariants
(the atoms of either metal) are conserved by every stage in exact arithmetic, so the drift is only
round-off.

Structure of ``W`` (state = 26 monomers M, then 351 dimers D ordered by their total
first-metal count s, see :mod:`intercluster.network`):

* ``W_DD`` is tridiagonal: dissociation is diagonal and exchange only links neighbours
  inside a block of equal s (blocks touch with zero coupling). It is strictly column
  diagonally dominant (every exchange out of a dimer is an exchange into a neighbour, plus
  the positive ``1/(gamma h) + k_diss`` on the diagonal), so LU without pivoting is stable.
* ``W_MD`` (dissociation) and ``W_DM`` (dimerization) have two entries per dimer.
* ``W_MM`` is dense 26 x 26.

Each solve eliminates the dimers with the tridiagonal factors and solves the 26 x 26
Schur complement ``S = W_MM - W_MD W_DD^-1 W_DM`` by LU with partial pivoting. Building
``Z = W_DD^-1 W_DM`` is cheap because a block of total count s only involves monomers
``max(0, s-N) .. min(s, N)``: Z is stored densely but only those columns are touched.

All kernels are ``cache=True`` so the compile cost (a few seconds) is paid once per
machine, not per process.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# Let LLVM reassociate and fuse the inner products (SIMD) but keep NaN/inf semantics, which
# the failure checks rely on.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# --- RODAS4 coefficients (Hairer & Wanner, rodas.f, METH = 1) -------------------------------
# Autonomous system, so the time-derivative terms (the d_i of rodas.f) are not needed.
GAMMA = 0.25
A21 = 1.544
A31 = 0.9466785280815826
A32 = 0.2557011698983284
A41 = 3.314825187068521
A42 = 2.896124015972201
A43 = 0.9986419139977817
A51 = 1.221224509226641
A52 = 6.019134481288629
A53 = 12.53708332932087
A54 = -0.6878860361058950
C21 = -5.6688
C31 = -2.430093356833875
C32 = -0.2063599157091915
C41 = -0.1073529058151375
C42 = -9.594562251023355
C43 = -20.47028614809616
C51 = 7.496443313967647
C52 = -10.24680431464352
C53 = -33.99990352819905
C54 = 11.70890893206160
C61 = 8.083246795921522
C62 = -7.981132988064893
C63 = -31.52159432874371
C64 = 16.31930543123136
C65 = -6.058818238834054
# continuous extension: y(t + s h) = y0 (1-s) + s (y1 + (1-s) (q1 + s q2))
D21 = 10.12623508344586
D22 = -7.487995877610167
D23 = -34.80091861555747
D24 = -7.992771707568823
D25 = 1.025137723295662
D31 = -0.6762803392801253
D32 = 6.087714651680015
D33 = 16.43084320892478
D34 = 24.76722511418386
D35 = -6.594389125716872

# --- step-size control (standard Gustafsson predictive controller, as in rodas.f) --------
SAFETY = 0.9
FAC_MAX = 5.0  # largest growth of h per step
FAC_MIN = 0.2  # largest shrink of h per rejected step

# --- status codes returned by :func:`integrate` -------------------------------------------
OK = 0
NON_FINITE = 1
STEP_UNDERFLOW = 2
TOO_MANY_STEPS = 3
NEGATIVE = 4
SINGULAR = 5
STATUS_MESSAGES = {
    OK: "",
    NON_FINITE: "non-finite values in the solution (rate constants or state out of range)",
    STEP_UNDERFLOW: "step size underflow",
    TOO_MANY_STEPS: "too many steps",
    NEGATIVE: "negative concentration beyond tolerance",
    SINGULAR: "singular iteration matrix",
}

# indices into the stats array filled by :func:`integrate`
STAT_STEPS, STAT_REJECTED, STAT_RHS, STAT_MIN_RAW = 0, 1, 2, 3
N_STATS = 4


@nb.njit(cache=True, fastmath=_FASTMATH)
def rhs(y, k_dim, k_diss, k_ex, net, dy):
    """dy/dt. ``net`` is the tuple built by ``simulate._kernel_network``."""
    pi, pj, dim_fac, ex_out, ex_low, ex_up, block_start, n_m = net
    n_d = pi.size
    for r in range(n_m):
        dy[r] = 0.0
    for p in range(n_d):
        i = pi[p]
        j = pj[p]
        d = y[n_m + p]
        r_net = k_dim * dim_fac[p] * y[i] * y[j] - k_diss * d
        dy[i] -= r_net
        dy[j] -= r_net
        ex = -ex_out[p] * d
        if p > 0:
            ex += ex_low[p] * y[n_m + p - 1]
        if p < n_d - 1:
            ex += ex_up[p] * y[n_m + p + 1]
        dy[n_m + p] = r_net + k_ex * ex


@nb.njit(cache=True, fastmath=_FASTMATH)
def factorize(y, g, k_dim, k_diss, k_ex, net, tri_cp, tri_inv, dm, tinv, g_i, g_j, s_lu, piv):
    """Factor W = g I - J(y). Returns False if the Schur complement is singular.

    ``tinv``, ``g_i``, ``g_j`` are scratch arrays of at least (largest block)^2.
    Fills ``tri_cp``/``tri_inv`` (LU of the tridiagonal W_DD), ``dm`` (the two entries of
    each row of -W_DM: d r_dim/d M_i and d r_dim/d M_j) and ``s_lu``/``piv`` (LU of S).
    """
    pi, pj, dim_fac, ex_out, ex_low, ex_up, block_start, n_m = net
    n_d = pi.size
    # tridiagonal W_DD: diag g + k_diss + k_ex out; sub -k_ex low; super -k_ex up
    for p in range(n_d):
        diag = g + k_diss + k_ex * ex_out[p]
        if p > 0:
            diag += k_ex * ex_low[p] * tri_cp[p - 1]
        tri_inv[p] = 1.0 / diag
        tri_cp[p] = -k_ex * ex_up[p] * tri_inv[p] if p < n_d - 1 else 0.0
    # W_MM = g I - J_MM; dimerization of pair p consumes M_i and M_j at rate a M_i M_j
    for r in range(n_m):
        for c in range(n_m):
            s_lu[r, c] = 0.0
        s_lu[r, r] = g
    for p in range(n_d):
        i = pi[p]
        j = pj[p]
        a = k_dim * dim_fac[p]
        dm[p, 0] = a * y[j]  # d r_dim / d M_i
        dm[p, 1] = a * y[i]  # d r_dim / d M_j
        s_lu[i, i] += dm[p, 0]
        s_lu[i, j] += dm[p, 1]
        s_lu[j, i] += dm[p, 0]
        s_lu[j, j] += dm[p, 1]
    # S = W_MM - W_MD T^-1 W_DM, one block of equal total count at a time. Inside a block
    # T^-1 is dense (<= 13 x 13); W_MD[r, p] = -k_diss for r in (i_p, j_p) and
    # W_DM[q, i_q] = -dm[q, 0], W_DM[q, j_q] = -dm[q, 1].
    # Inside a block with first pair (i0, j0) and total s, pair q is (s - j0 - q, j0 + q),
    # so the rows and columns of S a block touches run contiguously (j side up, i side
    # down). T^-1 is built row by row (each row operation is independent across columns,
    # so it vectorises instead of being one long dependency chain per column).
    for blk in range(block_start.size - 1):
        o = block_start[blk]
        ns = block_start[blk + 1] - o
        j0 = pj[o]
        s = pi[o] + j0
        for k in range(ns):  # forward elimination of T X = I
            m = k_ex * ex_low[o + k] * tri_inv[o + k]
            for q in range(k):
                tinv[k, q] = m * tinv[k - 1, q]
            tinv[k, k] = tri_inv[o + k]
            for q in range(k + 1, ns):
                tinv[k, q] = 0.0
        for k in range(ns - 2, -1, -1):  # back substitution
            c = tri_cp[o + k]
            for q in range(ns):
                tinv[k, q] -= c * tinv[k + 1, q]
        # g_i is stored with its columns reversed so that every update below runs forward
        lo_i = s - j0 - (ns - 1)  # the lowest i-side monomer of the block
        for p in range(ns):
            for q in range(ns):
                g_i[p, ns - 1 - q] = k_diss * tinv[p, q] * dm[o + q, 0]
                g_j[p, q] = k_diss * tinv[p, q] * dm[o + q, 1]
        for p in range(ns):
            r_j = j0 + p  # the two monomers pair p dissociates into
            r_i = s - j0 - p
            for q in range(ns):
                s_lu[r_j, lo_i + q] -= g_i[p, q]
            for q in range(ns):
                s_lu[r_j, j0 + q] -= g_j[p, q]
            for q in range(ns):
                s_lu[r_i, lo_i + q] -= g_i[p, q]
            for q in range(ns):
                s_lu[r_i, j0 + q] -= g_j[p, q]
    # LU with partial pivoting, in place
    for k in range(n_m):
        best = k
        big = abs(s_lu[k, k])
        for r in range(k + 1, n_m):
            if abs(s_lu[r, k]) > big:
                big = abs(s_lu[r, k])
                best = r
        piv[k] = best
        if not big > 0.0 or not np.isfinite(big):
            return False
        if best != k:
            for c in range(n_m):
                tmp = s_lu[k, c]
                s_lu[k, c] = s_lu[best, c]
                s_lu[best, c] = tmp
        inv = 1.0 / s_lu[k, k]
        for r in range(k + 1, n_m):
            f = s_lu[r, k] * inv
            s_lu[r, k] = f
            if f != 0.0:
                for c in range(k + 1, n_m):
                    s_lu[r, c] -= f * s_lu[k, c]
    return True


@nb.njit(cache=True, fastmath=_FASTMATH)
def _tridiagonal_solve(rhs_d, x_d, k_ex, ex_low, tri_cp, tri_inv):
    """x_D = W_DD^-1 rhs_D with the LU factors of the tridiagonal W_DD (Thomas sweep)."""
    n_d = tri_inv.size
    prev = 0.0
    for p in range(n_d):
        v = rhs_d[p]
        if p > 0:
            v += k_ex * ex_low[p] * prev
        prev = v * tri_inv[p]
        x_d[p] = prev
    for p in range(n_d - 2, -1, -1):
        x_d[p] -= tri_cp[p] * x_d[p + 1]


@nb.njit(cache=True, fastmath=_FASTMATH)
def solve(b, x, k_diss, k_ex, net, tri_cp, tri_inv, dm, s_lu, piv, xm, work):
    """x = W^-1 b with the factors of :func:`factorize` (``xm``, ``work`` are scratch).

    Block elimination: t = T^-1 b_D; S x_M = b_M - W_MD t; x_D = T^-1 (b_D - W_DM x_M).
    """
    pi, pj, dim_fac, ex_out, ex_low, ex_up, block_start, n_m = net
    n_d = pi.size
    _tridiagonal_solve(b[n_m:], work, k_ex, ex_low, tri_cp, tri_inv)
    for r in range(n_m):
        xm[r] = b[r]
    for p in range(n_d):
        v = k_diss * work[p]
        xm[pi[p]] += v
        xm[pj[p]] += v
    for k in range(n_m):
        kp = piv[k]
        if kp != k:
            tmp = xm[k]
            xm[k] = xm[kp]
            xm[kp] = tmp
    for r in range(1, n_m):
        v = xm[r]
        for c in range(r):
            v -= s_lu[r, c] * xm[c]
        xm[r] = v
    for r in range(n_m - 1, -1, -1):
        v = xm[r]
        for c in range(r + 1, n_m):
            v -= s_lu[r, c] * xm[c]
        xm[r] = v / s_lu[r, r]
    for r in range(n_m):
        x[r] = xm[r]
    for p in range(n_d):
        work[p] = b[n_m + p] + dm[p, 0] * xm[pi[p]] + dm[p, 1] * xm[pj[p]]
    _tridiagonal_solve(work, x[n_m:], k_ex, ex_low, tri_cp, tri_inv)


@nb.njit(cache=True, fastmath=_FASTMATH)
def _error_norm(err, y0, y1, rtol, atol):
    acc = 0.0
    for r in range(err.size):
        scale = atol + rtol * max(abs(y0[r]), abs(y1[r]))
        q = err[r] / scale
        acc += q * q
    return np.sqrt(acc / err.size)


@nb.njit(cache=True, fastmath=_FASTMATH)
def integrate(y0, t_out, k_dim, k_diss, k_ex, net, rtol, atol, neg_tol, max_steps, out, stats):
    """Integrate from t = 0 and write the state at each ``t_out`` (ascending) into ``out``.

    Returns a status code (``OK`` or one of the failure codes); never raises for bad
    numbers. A step whose result has a concentration below ``-neg_tol`` is rejected and
    retried with a smaller step (positivity is part of the acceptance test, as in CVODE's
    inequality constraints). ``stats`` receives steps, rejections, RHS calls and the most
    negative accepted concentration.
    """
    n = y0.size
    n_m = net[7]
    n_d = n - n_m
    n_out = t_out.size
    y = y0.copy()
    y1 = np.empty(n)
    arg = np.empty(n)
    fy = np.empty(n)
    rhs_vec = np.empty(n)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    k5 = np.empty(n)
    k6 = np.empty(n)
    tri_cp = np.empty(n_d)
    tri_inv = np.empty(n_d)
    dm = np.empty((n_d, 2))
    # scratch for one block's T^-1 and its products (a block has at most N/2 + 1 rows)
    tinv = np.empty((n_m, n_m))
    g_i = np.empty((n_m, n_m))
    g_j = np.empty((n_m, n_m))
    work = np.empty(n_d)
    s_lu = np.empty((n_m, n_m))
    piv = np.empty(n_m, dtype=np.int64)
    xm = np.empty(n_m)
    for q in range(N_STATS):
        stats[q] = 0.0
    min_raw = 0.0

    t = 0.0
    io = 0
    while io < n_out and t_out[io] <= 0.0:
        out[io, :] = y
        io += 1
    if io == n_out:
        return OK
    t_end = t_out[n_out - 1]

    rhs(y, k_dim, k_diss, k_ex, net, fy)
    n_rhs = 1
    # initial step: 1 % of the time for the state to change by its own scale (Hairer's
    # heuristic), within [1e-15, 1e-2] of the span. The floor only guards against a zero
    # step; an absolute floor (it was 1e-8 s) would bind for fast constants and break the
    # time-scale invariance of the step sequence that simulate_orbit relies on.
    d0 = 0.0
    d1 = 0.0
    for r in range(n):
        scale = atol + rtol * abs(y[r])
        d0 += (y[r] / scale) ** 2
        d1 += (fy[r] / scale) ** 2
    if not np.isfinite(d1):
        stats[STAT_RHS] = n_rhs
        return NON_FINITE
    h = 0.01 * np.sqrt(d0 / d1) if d1 > 0.0 else 0.01 * t_end
    h = min(max(h, 1e-15 * t_end), 0.01 * t_end)

    first = True
    rejected = False
    err_old = 1.0
    h_old = h
    n_steps = 0
    n_rej = 0
    status = OK
    while t < t_end:
        if n_steps + n_rej >= max_steps:
            status = TOO_MANY_STEPS
            break
        # The last step is NOT cut to end at t_end: the final output comes from the dense
        # output like every other one. Then the step sequence does not depend on where the
        # output stops, which makes an orbit's integration (simulate_orbit) reproduce each
        # member's own integration step for step, in scaled time.
        if h <= 1e-13 * max(t, 1.0):
            status = STEP_UNDERFLOW
            break
        inv_h = 1.0 / h
        g = 1.0 / (GAMMA * h)
        if not factorize(
            y, g, k_dim, k_diss, k_ex, net, tri_cp, tri_inv, dm, tinv, g_i, g_j, s_lu, piv
        ):
            status = SINGULAR
            break
        # stage 1
        solve(fy, k1, k_diss, k_ex, net, tri_cp, tri_inv, dm, s_lu, piv, xm, work)
        # stage 2
        for r in range(n):
            arg[r] = y[r] + A21 * k1[r]
        rhs(arg, k_dim, k_diss, k_ex, net, rhs_vec)
        for r in range(n):
            rhs_vec[r] += C21 * k1[r] * inv_h
        solve(rhs_vec, k2, k_diss, k_ex, net, tri_cp, tri_inv, dm, s_lu, piv, xm, work)
        # stage 3
        for r in range(n):
            arg[r] = y[r] + A31 * k1[r] + A32 * k2[r]
        rhs(arg, k_dim, k_diss, k_ex, net, rhs_vec)
        for r in range(n):
            rhs_vec[r] += (C31 * k1[r] + C32 * k2[r]) * inv_h
        solve(rhs_vec, k3, k_diss, k_ex, net, tri_cp, tri_inv, dm, s_lu, piv, xm, work)
        # stage 4
        for r in range(n):
            arg[r] = y[r] + A41 * k1[r] + A42 * k2[r] + A43 * k3[r]
        rhs(arg, k_dim, k_diss, k_ex, net, rhs_vec)
        for r in range(n):
            rhs_vec[r] += (C41 * k1[r] + C42 * k2[r] + C43 * k3[r]) * inv_h
        solve(rhs_vec, k4, k_diss, k_ex, net, tri_cp, tri_inv, dm, s_lu, piv, xm, work)
        # stage 5
        for r in range(n):
            arg[r] = y[r] + A51 * k1[r] + A52 * k2[r] + A53 * k3[r] + A54 * k4[r]
        rhs(arg, k_dim, k_diss, k_ex, net, rhs_vec)
        for r in range(n):
            rhs_vec[r] += (C51 * k1[r] + C52 * k2[r] + C53 * k3[r] + C54 * k4[r]) * inv_h
        solve(rhs_vec, k5, k_diss, k_ex, net, tri_cp, tri_inv, dm, s_lu, piv, xm, work)
        # stage 6 (stiffly accurate: its argument is the embedded solution)
        for r in range(n):
            arg[r] += k5[r]
        rhs(arg, k_dim, k_diss, k_ex, net, rhs_vec)
        for r in range(n):
            rhs_vec[r] += (
                C61 * k1[r] + C62 * k2[r] + C63 * k3[r] + C64 * k4[r] + C65 * k5[r]
            ) * inv_h
        solve(rhs_vec, k6, k_diss, k_ex, net, tri_cp, tri_inv, dm, s_lu, piv, xm, work)
        n_rhs += 5
        y_min = np.inf
        for r in range(n):
            y1[r] = arg[r] + k6[r]
            if y1[r] < y_min:
                y_min = y1[r]

        err = _error_norm(k6, y, y1, rtol, atol)
        if not np.isfinite(err) or not np.isfinite(y_min):
            # a blow-up inside the step: shrink hard and retry
            n_rej += 1
            rejected = True
            h *= FAC_MIN
            continue
        if y_min < -neg_tol:
            err = max(err, 2.0)  # treat as an error-test failure

        fac = min(1.0 / FAC_MIN, max(1.0 / FAC_MAX, err**0.25 / SAFETY))
        if err > 1.0:
            n_rej += 1
            rejected = True
            h /= fac
            continue

        # accepted: dense output for every requested time inside (t, t + h]
        t_new = t + h
        if io < n_out and t_out[io] <= t_new:
            for r in range(n):
                q1 = D21 * k1[r] + D22 * k2[r] + D23 * k3[r] + D24 * k4[r] + D25 * k5[r]
                q2 = D31 * k1[r] + D32 * k2[r] + D33 * k3[r] + D34 * k4[r] + D35 * k5[r]
                k1[r] = q1  # k1, k2 are free now: reuse them for the two coefficients
                k2[r] = q2
            while io < n_out and t_out[io] <= t_new:
                s = min(1.0, max(0.0, (t_out[io] - t) * inv_h))
                s1 = 1.0 - s
                for r in range(n):
                    out[io, r] = y[r] * s1 + s * (y1[r] + s1 * (k1[r] + s * k2[r]))
                io += 1
        if y_min < min_raw:
            min_raw = y_min
        n_steps += 1
        t = t_new
        for r in range(n):
            y[r] = y1[r]
        rhs(y, k_dim, k_diss, k_ex, net, fy)
        n_rhs += 1

        # predictive (Gustafsson) controller
        if not first:
            fac_pred = (h_old / h) * (err * err / err_old) ** 0.25 / SAFETY
            fac_pred = min(1.0 / FAC_MIN, max(1.0 / FAC_MAX, fac_pred))
            fac = max(fac, fac_pred)
        first = False
        h_old = h
        err_old = max(0.01, err)
        h_new = h / fac
        if rejected:
            h_new = min(h_new, h)
        rejected = False
        h = h_new

    stats[STAT_STEPS] = n_steps
    stats[STAT_REJECTED] = n_rej
    stats[STAT_RHS] = n_rhs
    stats[STAT_MIN_RAW] = min_raw
    if status == OK:
        while io < n_out:  # only reachable through round-off at t_end
            out[io, :] = y
            io += 1
        for q in range(n_out):
            for r in range(n):
                if not np.isfinite(out[q, r]):
                    return NON_FINITE
    return status


# --- t_max of many curves (see intercluster.observables.PeakFinder.tmax_many) ---------------
@nb.njit(cache=True)
def earliest_prominent_columns(smooth, k, r):
    """For every column j of ``smooth`` (n_times, n_curves): replace the index ``k[j]`` of its
    global maximum by that of the earliest maximum within ``r`` of, and prominent by ``r`` of,
    the global maximum (the near-equal-maxima rule of ``intercluster.observables``).

    Same rule, step by step, as ``observables._earliest_prominent``, for all columns in one
    compiled loop (a Python loop over columns would dominate t_max of a large grid).
    """
    n, n_cols = smooth.shape
    for c in range(n_cols):
        kg = k[c]
        top = smooth[kg, c]
        need = r * abs(top)
        level = top - need
        # only an earlier point within the tolerance can be an earlier maximum
        first = -1
        for i in range(kg):
            if smooth[i, c] >= level:
                first = i
                break
        if first < 0:
            continue
        for i in range(first, kg):
            s_i = smooth[i, c]
            if s_i < level:
                continue
            if i > 0 and smooth[i - 1, c] > s_i:
                continue
            if i < n - 1 and smooth[i + 1, c] >= s_i:
                continue
            j = i + 1
            right = np.inf
            while j < n and smooth[j, c] <= s_i:
                if smooth[j, c] < right:
                    right = smooth[j, c]
                j += 1
            h = i - 1
            left = np.inf
            while h >= 0 and smooth[h, c] <= s_i:
                if smooth[h, c] < left:
                    left = smooth[h, c]
                h -= 1
            if h < 0:
                left = -np.inf
            if j >= n:
                right = -np.inf
            if s_i - max(left, right) >= need:
                k[c] = i
                break


@nb.njit(cache=True)
def top_run_bounds(smooth, k, p, lo, hi):
    """For every column c of ``smooth`` (n_times, n_curves): the first (``lo[c]``) and last
    (``hi[c]``) index of the contiguous run around ``k[c]`` where the curve stays at or
    above ``(1 - p)`` times its value at ``k[c]`` (the top of the t_max rule of
    ``intercluster.observables``)."""
    n, n_cols = smooth.shape
    for c in range(n_cols):
        kc = k[c]
        level = smooth[kc, c] - p * abs(smooth[kc, c])
        a = kc
        while a > 0 and smooth[a - 1, c] >= level:
            a -= 1
        b = kc
        while b < n - 1 and smooth[b + 1, c] >= level:
            b += 1
        lo[c] = a
        hi[c] = b


@nb.njit(cache=True)
def peak_vertex_terms(h1, h2, y, k, lo, hi, slope, curv):
    """``slope[c] = h1[k[c]] @ y[:, c]`` and ``curv[c] = h2[k[c]] @ y[:, c]`` over the
    non-zero span ``lo[k[c]] .. hi[k[c]]`` of the rows (the local fit's window), in a fixed
    order, so a column's result does not depend on how many columns come with it."""
    for c in range(y.shape[1]):
        r = k[c]
        s1 = 0.0
        s2 = 0.0
        for j in range(lo[r], hi[r] + 1):
            s1 += h1[r, j] * y[j, c]
            s2 += h2[r, j] * y[j, c]
        slope[c] = s1
        curv[c] = s2
