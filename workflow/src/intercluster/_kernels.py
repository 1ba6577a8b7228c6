"""Numba kernels of the fast simulator (see :func:`intercluster.simulate.simulate`).

Methods (:data:`TABLEAUS`): linearly implicit Rosenbrock methods, stiffly accurate and
L-stable, with an embedded error estimate and a continuous extension for dense output,
driven by one tableau-generic integrator (:func:`integrate`):

* ``rodas5p``, the default: Rodas5P of Steinebach (2023), 8 stages, order 5 (embedded 4),
  dense output of order 4;
* ``rodas4``: RODAS4 of Hairer & Wanner (Solving ODEs II, 2nd ed., 1996, code ``rodas.f``),
  6 stages, order 4 (embedded 3), dense output of order 3; the method before Rodas5P.

Rosenbrock methods use the exact Jacobian and need no Newton iteration; every stage is one
linear solve with the same matrix ``W = I/(gamma h) - J``. Linear invariants (the atoms of
either metal) are conserved by every stage in exact arithmetic, so the drift is only
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
S is cheap because a block of total count s only involves the contiguous monomers
``max(0, s-N) .. min(s, N)``: each block's rows of ``W_DD^-1 W_DM`` come from one Thomas
sweep over just those columns and update just those rows and columns of S.
:func:`solve_system` factors and solves once (for tests against a dense solve).

All kernels are ``cache=True`` so the compile cost (a few seconds) is paid once per
machine, not per process.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# Let LLVM reassociate and fuse the inner products (SIMD) but keep NaN/inf semantics, which
# the failure checks rely on.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# --- method tableaus ------------------------------------------------------------------------
# A Rosenbrock tableau here is (gamma, A, C, H, err_exponent) in the convention of Hairer &
# Wanner's rodas.f (also OrdinaryDiffEq.jl's): stage i solves
#   (I/(gamma h) - J) k_i = f(y + sum_j A[i, j] k_j) + sum_j C[i, j] k_j / h,
# the last stage's argument is the embedded solution and y1 = that argument + k_last
# (stiffly accurate, error estimate k_last), and the dense output is
#   y(t + s h) = y0 (1-s) + s (y1 + (1-s) (q_0 + s (q_1 + s (q_2 ...)))), q = H @ k.
# Autonomous system, so the time-derivative terms (the d_i / c_i) are not needed.

# RODAS4 (Hairer & Wanner, Solving ODEs II, 2nd ed., 1996, code rodas.f, METH = 1): 6 stages,
# order 4 with an order-3 embedded estimate, dense output of order 3.
_RODAS4_A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1.544, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.9466785280815826, 0.2557011698983284, 0.0, 0.0, 0.0, 0.0],
    [3.314825187068521, 2.896124015972201, 0.9986419139977817, 0.0, 0.0, 0.0],
    [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 0.0, 0.0],
    [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 1.0, 0.0],
])  # fmt: skip
_RODAS4_C = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-5.6688, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.430093356833875, -0.2063599157091915, 0.0, 0.0, 0.0, 0.0],
    [-0.1073529058151375, -9.594562251023355, -20.47028614809616, 0.0, 0.0, 0.0],
    [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160, 0.0, 0.0],
    [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
     -6.058818238834054, 0.0],
])  # fmt: skip
_RODAS4_H = np.array([
    [10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823,
     1.025137723295662, 0.0],
    [-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386,
     -6.594389125716872, 0.0],
])  # fmt: skip

# Rodas5P (G. Steinebach, "Construction of Rosenbrock-Wanner method Rodas5P and numerical
# benchmarks within the Julia Differential Equations package", BIT Numer. Math. 63, 27
# (2023)): 8 stages, order 5 with an order-4 embedded estimate, L-stable and stiffly
# accurate, dense output of order 4. Coefficients as published in OrdinaryDiffEq.jl,
# lib/OrdinaryDiffEqRosenbrock/src/rosenbrock_tableaus.jl (Rodas5PTableau: A, C, H; the
# rows of H are the three interpolation coefficient sets, interp_order 3).
_RODAS5P_A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [2.849394379747939, 0.45842242204463923, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-6.954028509809101, 2.489845061869568, -10.358996098473584, 0.0, 0.0, 0.0, 0.0, 0.0],
    [2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641,
     0.0, 0.0, 0.0, 0.0],
    [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
     0.030198172008377946, 0.0, 0.0, 0.0],
    [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
     0.030198172008377946, 1.0, 0.0, 0.0],
    [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
     0.030198172008377946, 1.0, 1.0, 0.0],
])  # fmt: skip
_RODAS5P_C = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-14.155112264123755, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-17.97296035885952, -2.859693295451294, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [147.12150275711716, -1.41221402718213, 71.68940251302358, 0.0, 0.0, 0.0, 0.0, 0.0],
    [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306,
     0.0, 0.0, 0.0, 0.0],
    [24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125,
     -0.6610691825249471, 0.0, 0.0, 0.0],
    [30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783,
     -19.097331116725623, -28.087943162872662, 0.0, 0.0],
    [37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047,
     -40.06618937091002, -54.66780262877968, -9.48861652309627, 0.0],
])  # fmt: skip
_RODAS5P_H = np.array([
    [25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204,
     0.524948541321073, 1.1241088310450404, 0.4272876194431874, -0.17202221070155493],
    [-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796,
     20.176138334709044, 15.98066361424651, -6.789040303419874, -6.710236069923372],
    [11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643,
     -52.072871366152654, -59.78993625266729, -0.15582684282751913, 4.883087185713722],
])  # fmt: skip

#: the kernels' methods by name: (gamma, A, C, H, exponent of the error in the step-size
#: controller = 1 / (order of the embedded estimate + 1))
TABLEAUS = {
    "rodas4": (0.25, _RODAS4_A, _RODAS4_C, _RODAS4_H, 1.0 / 4.0),
    "rodas5p": (0.21193756319429014, _RODAS5P_A, _RODAS5P_C, _RODAS5P_H, 1.0 / 5.0),
}

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
def factorize(y, g, k_dim, k_diss, k_ex, net, tri_cp, tri_inv, tri_low, dm, blk_y, s_lu, piv):
    """Factor W = g I - J(y). Returns False if the Schur complement is singular.

    ``blk_y`` is scratch of at least (largest block) x (number of monomers).
    Fills ``tri_cp``/``tri_inv``/``tri_low`` (LU of the tridiagonal W_DD: the upper
    factor's super-diagonal, the lower factor's inverse diagonal and the forward sweep's
    multipliers, precomputed so that a sweep's chain is one fused multiply-add a row),
    ``dm`` (the two entries of each row of -W_DM: d r_dim/d M_i and d r_dim/d M_j) and
    ``s_lu``/``piv`` (LU of S).
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
        tri_low[p] = k_ex * ex_low[p] * tri_inv[p]  # 0 at a block's first row
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
    # S = W_MM - W_MD T^-1 W_DM, one block of equal total count at a time: the block's rows
    # of Y = k_diss T^-1 (-W_DM) by a Thomas sweep over all its columns at once, then
    # S -= (-W_MD / k_diss) Y. W_MD[r, p] = -k_diss for r in (i_p, j_p) and W_DM[q, i_q] =
    # -dm[q, 0], W_DM[q, j_q] = -dm[q, 1]. Inside a block with first pair (i0, j0) and total
    # s, pair q is (s - j0 - q, j0 + q): the monomers a block touches are the contiguous
    # range lo .. hi (its j side runs up from j0, its i side down to s - j0 - (ns - 1)), so
    # every row operation below is one contiguous run of length hi - lo + 1 (up to 2 ns).
    # That replaces an explicit ns x ns T^-1, its two products with the dm columns and four
    # scattered updates of length ns per pair: 4 ns loops per block instead of about 8 ns
    # (short loops of varying length cost more in their overhead than in their arithmetic;
    # the S update was most of the factorisation), and the same S up to round-off.
    for blk in range(block_start.size - 1):
        o = block_start[blk]
        ns = block_start[blk + 1] - o
        j0 = pj[o]
        s = pi[o] + j0
        lo = min(j0, s - j0 - (ns - 1))
        width = max(s - j0, j0 + ns - 1) - lo + 1
        for p in range(ns):  # forward sweep: row p = (B_p + k_ex low_p row p-1) / d_p
            inv = tri_inv[o + p]
            if p == 0:
                for c in range(width):
                    blk_y[p, c] = 0.0
            else:
                m = tri_low[o + p]
                for c in range(width):
                    blk_y[p, c] = m * blk_y[p - 1, c]
            blk_y[p, s - j0 - p - lo] += k_diss * dm[o + p, 0] * inv
            blk_y[p, j0 + p - lo] += k_diss * dm[o + p, 1] * inv
        for p in range(ns - 2, -1, -1):  # back substitution
            c_up = tri_cp[o + p]
            for c in range(width):
                blk_y[p, c] -= c_up * blk_y[p + 1, c]
        for p in range(ns):  # pair p dissociates into monomers j0 + p and s - j0 - p
            row_y = blk_y[p]
            row_j = s_lu[j0 + p, lo:]
            row_i = s_lu[s - j0 - p, lo:]
            for c in range(width):
                v = row_y[c]
                row_j[c] -= v
                row_i[c] -= v
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
def _tridiagonal_solve(rhs_d, x_d, tri_low, tri_cp, tri_inv, block_start):
    """x_D = W_DD^-1 rhs_D with the LU factors of the tridiagonal W_DD (Thomas sweep).

    Block by block (exchange never leaves a block of equal total count: ``tri_low`` is 0 at
    a block's first row, ``tri_cp`` at its last), and two blocks at a time: blocks b and
    n_blocks - 1 - b have the same length (``simulate._kernel_network`` checks it), so one
    loop runs their two independent dependency chains side by side, with half as many
    loop exits (which the branch predictor cannot learn: the lengths vary) as one block
    at a time. The sweeps are most of a solve, a solve most of a step.
    """
    n_blocks = block_start.size - 1
    for b in range((n_blocks + 1) // 2):
        lo_a = block_start[b]
        lo_b = block_start[n_blocks - 1 - b]
        ns = block_start[b + 1] - lo_a
        prev_a = 0.0
        prev_b = 0.0
        for q in range(ns):
            prev_a = rhs_d[lo_a + q] * tri_inv[lo_a + q] + tri_low[lo_a + q] * prev_a
            prev_b = rhs_d[lo_b + q] * tri_inv[lo_b + q] + tri_low[lo_b + q] * prev_b
            x_d[lo_a + q] = prev_a
            x_d[lo_b + q] = prev_b
        for q in range(ns - 2, -1, -1):
            prev_a = x_d[lo_a + q] - tri_cp[lo_a + q] * prev_a
            prev_b = x_d[lo_b + q] - tri_cp[lo_b + q] * prev_b
            x_d[lo_a + q] = prev_a
            x_d[lo_b + q] = prev_b


@nb.njit(cache=True, fastmath=_FASTMATH)
def solve(b, x, k_diss, net, tri_cp, tri_inv, tri_low, dm, s_lu, piv, xm, work):
    """x = W^-1 b with the factors of :func:`factorize` (``xm``, ``work`` are scratch).

    Block elimination: t = T^-1 b_D; S x_M = b_M - W_MD t; x_D = T^-1 (b_D - W_DM x_M).
    """
    pi, pj, dim_fac, ex_out, ex_low, ex_up, block_start, n_m = net
    n_d = pi.size
    _tridiagonal_solve(b[n_m:], work, tri_low, tri_cp, tri_inv, block_start)
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
    _tridiagonal_solve(work, x[n_m:], tri_low, tri_cp, tri_inv, block_start)


@nb.njit(cache=True, fastmath=_FASTMATH)
def solve_system(y, g, k_dim, k_diss, k_ex, net, b, x):
    """x = (g I - J(y))^-1 b through :func:`factorize` and :func:`solve`, with the scratch
    :func:`integrate` uses. Returns False (x untouched) if the matrix is singular."""
    n_m = net[7]
    n_d = net[0].size
    tri_cp = np.empty(n_d)
    tri_inv = np.empty(n_d)
    tri_low = np.empty(n_d)
    dm = np.empty((n_d, 2))
    blk_y = np.empty((n_m, n_m))
    s_lu = np.empty((n_m, n_m))
    piv = np.empty(n_m, dtype=np.int64)
    if not factorize(
        y, g, k_dim, k_diss, k_ex, net, tri_cp, tri_inv, tri_low, dm, blk_y, s_lu, piv
    ):
        return False
    solve(b, x, k_diss, net, tri_cp, tri_inv, tri_low, dm, s_lu, piv, np.empty(n_m), np.empty(n_d))
    return True


@nb.njit(cache=True, fastmath=_FASTMATH)
def _error_norm(err, y0, y1, rtol, atol):
    acc = 0.0
    for r in range(err.size):
        scale = atol + rtol * max(abs(y0[r]), abs(y1[r]))
        q = err[r] / scale
        acc += q * q
    return np.sqrt(acc / err.size)


# fastmath=False stated, not left out: numba lets a callee that does not set the option
# inherit the caller's fastmath, and reassociation would reorder the ion sums (see below)
@nb.njit(cache=True, fastmath=False)
def emit_row(row, io, out, row_min, block_start, n_m, observables_only):
    """Write one output state ``row`` as row ``io`` of ``out``, its lowest value (NaN when
    any value is not finite) as ``row_min[io]``.

    With ``observables_only``, ``out`` has the observables' columns: the monomers, then each
    block's isomers summed, every value clipped at 0 first. The sums run in network order
    from 0, exactly as ``ReactionNetwork.observables`` does after ``np.maximum(states, 0)``,
    so the two agree to the last bit (and the orbit and grid paths need never hold the
    full states).
    """
    lowest = np.inf
    finite = True
    for r in range(row.size):
        v = row[r]
        if not np.isfinite(v):
            finite = False
        elif v < lowest:
            lowest = v
    row_min[io] = lowest if finite else np.nan
    if not observables_only:
        for r in range(row.size):
            out[io, r] = row[r]
        return
    for r in range(n_m):
        v = row[r]
        out[io, r] = 0.0 if v < 0.0 else v  # NaN stays NaN, as with np.maximum
    for b in range(block_start.size - 1):
        acc = 0.0
        for p in range(n_m + block_start[b], n_m + block_start[b + 1]):
            v = row[p]
            acc += 0.0 if v < 0.0 else v
        out[io, n_m + b] = acc


@nb.njit(cache=True, fastmath=_FASTMATH)
def integrate(
    y0, t_out, k_dim, k_diss, k_ex, net, rtol, atol, neg_tol, max_steps, out, stats, tableau,
    row_min, observables_only,
):  # fmt: skip
    """Integrate from t = 0 and write the state at each ``t_out`` (ascending) into ``out``.

    ``tableau`` is one of :data:`TABLEAUS` (the method). Each output row goes through
    :func:`emit_row`: ``row_min`` (n_out,) receives its lowest value, and with
    ``observables_only`` ``out`` receives the clipped observables (n_out, n_monomers +
    n_blocks) instead of the states (n_out, n_species). Returns a status code (``OK`` or
    one of the failure codes); never raises for bad numbers. A step whose result has a
    concentration below ``-neg_tol`` is rejected and retried with a smaller step
    (positivity is part of the acceptance test, as in CVODE's inequality constraints).
    ``stats`` receives steps, rejections, RHS calls and the most negative accepted
    concentration.
    """
    gamma, a_mat, c_mat, h_mat, err_exponent = tableau
    n_stages = a_mat.shape[0]
    n_dense = h_mat.shape[0]
    last = n_stages - 1
    n = y0.size
    n_m = net[7]
    n_d = n - n_m
    n_out = t_out.size
    y = y0.copy()
    y1 = np.empty(n)
    row = np.empty(n)
    block_start = net[6]
    arg = np.empty(n)
    fy = np.empty(n)
    rhs_vec = np.empty(n)
    ks = np.empty((n_stages, n))
    dense = np.empty((n_dense, n))
    tri_cp = np.empty(n_d)
    tri_inv = np.empty(n_d)
    tri_low = np.empty(n_d)
    dm = np.empty((n_d, 2))
    # scratch for one block's rows of T^-1 W_DM (a block has at most N/2 + 1 rows)
    blk_y = np.empty((n_m, n_m))
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
        emit_row(y, io, out, row_min, block_start, n_m, observables_only)
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
        g = 1.0 / (gamma * h)
        if not factorize(
            y, g, k_dim, k_diss, k_ex, net, tri_cp, tri_inv, tri_low, dm, blk_y, s_lu, piv
        ):
            status = SINGULAR
            break
        solve(fy, ks[0], k_diss, net, tri_cp, tri_inv, tri_low, dm, s_lu, piv, xm, work)
        for i in range(1, n_stages):
            for r in range(n):
                arg[r] = y[r]
            for j in range(i):
                a = a_mat[i, j]
                if a != 0.0:
                    for r in range(n):
                        arg[r] += a * ks[j, r]
            rhs(arg, k_dim, k_diss, k_ex, net, rhs_vec)
            for j in range(i):
                c = c_mat[i, j] * inv_h
                if c != 0.0:
                    for r in range(n):
                        rhs_vec[r] += c * ks[j, r]
            solve(rhs_vec, ks[i], k_diss, net, tri_cp, tri_inv, tri_low, dm, s_lu, piv, xm, work)
        n_rhs += n_stages - 1
        # stiffly accurate: the last stage's argument is the embedded solution
        y_min = np.inf
        for r in range(n):
            y1[r] = arg[r] + ks[last, r]
            if y1[r] < y_min:
                y_min = y1[r]

        err = _error_norm(ks[last], y, y1, rtol, atol)
        if not np.isfinite(err) or not np.isfinite(y_min):
            # a blow-up inside the step: shrink hard and retry
            n_rej += 1
            rejected = True
            h *= FAC_MIN
            continue
        if y_min < -neg_tol:
            err = max(err, 2.0)  # treat as an error-test failure

        fac = min(1.0 / FAC_MIN, max(1.0 / FAC_MAX, err**err_exponent / SAFETY))
        if err > 1.0:
            n_rej += 1
            rejected = True
            h /= fac
            continue

        # accepted: dense output for every requested time inside (t, t + h]
        t_new = t + h
        if io < n_out and t_out[io] <= t_new:
            for d in range(n_dense):
                for r in range(n):
                    dense[d, r] = 0.0
                for j in range(n_stages):
                    w = h_mat[d, j]
                    if w != 0.0:
                        for r in range(n):
                            dense[d, r] += w * ks[j, r]
            while io < n_out and t_out[io] <= t_new:
                s = min(1.0, max(0.0, (t_out[io] - t) * inv_h))
                s1 = 1.0 - s
                for r in range(n):
                    poly = dense[n_dense - 1, r]
                    for d in range(n_dense - 2, -1, -1):
                        poly = dense[d, r] + s * poly
                    row[r] = y[r] * s1 + s * (y1[r] + s1 * poly)
                emit_row(row, io, out, row_min, block_start, n_m, observables_only)
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
            fac_pred = (h_old / h) * (err * err / err_old) ** err_exponent / SAFETY
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
            emit_row(y, io, out, row_min, block_start, n_m, observables_only)
            io += 1
        for q in range(n_out):
            if not np.isfinite(row_min[q]):
                return NON_FINITE
    return status


# --- t_max of many curves (see intercluster.observables.PeakFinder.tmax_many) ---------------
@nb.njit(cache=True)
def earliest_prominent_columns(smooth, k, r):
    """For every column j of ``smooth`` (n_times, n_curves): replace the index ``k[j]`` of its
    global maximum by that of the earliest maximum within ``r`` of, and prominent by ``r`` of,
    the global maximum (the near-equal-maxima rule of ``intercluster.observables``).

    One compiled loop over all columns (a Python loop over columns would dominate t_max);
    ``tests/test_observables.py`` holds the rule written plainly for one column, the
    reference it is checked against.
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
