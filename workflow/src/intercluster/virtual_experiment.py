"""SYNTHETIC virtual experiment: time-resolved ESI mass spectra of a simulated reaction.

No raw data of the paper are public, so the demo runs on spectra simulated from a kinetic
model (model 3 at the Table 1 constants in the default config) with a known truth. Every
file and table written here says it is synthetic (:data:`intercluster.io.SYNTHETIC_LABEL`).

Forward model of one MS1 spectrum at experimental time t (0 = first spectrum, dead time
after mixing):

* normalised observables y_k(t) (ion concentrations; a dimer ion is the sum of its isomers);
* total ions N = ions_per_spectrum * g, g ~ lognormal(sd source_instability_rel) per spectrum;
* calibration shift s(t) = offset_ppm + drift_ppm_per_h * t/h on every m/z;
* expected counts per m/z bin: N y_k times each nominal isotope peak (probability-weighted
  centroid) integrated over the bin as a Gaussian of FWHM m/z / resolving_power;
* shot noise (Poisson counts) plus a baseline: a constant background of 3 noise sds with
  Gaussian noise (clipped at 0), rounded to whole counts. The noise sd is baseline_rel times
  the run's median base peak, one value per run (detector noise does not scale with the
  momentary signal); the CID spectra get the same sd.

Output modes (config ``virtual_experiment.spectra``): ``dense`` writes every profile point of
the uniform grid (the default); ``sparse`` leaves out the points below ``threshold_rel`` of
each spectrum's base peak, as vendor exporters and msconvert's threshold / zero-sample
filters do (``keep_flanking_zeros``: the points next to each island are kept, written as 0,
like msconvert's ``removeExtra``); ``centroid`` writes one stick per peak, its area
(:func:`intercluster.centroid.pick_peaks`); ``centroid_height`` writes what vendor peak
pickers write: one stick per local maximum of the noisy profile at or above
``centroid_min_rel`` of the base peak (noise maxima included), its HEIGHT
(:func:`intercluster.centroid.peak_heights`). Every spectrum states its acquired scan window
(MS:1000501/MS:1000500), the configured ``mz_range``.

Interferences (config ``virtual_experiment.interferences``, all off by default; see
:class:`Interferences` and docs/science.md §1): trimers, unassigned isotope-like clusters,
a dimer response factor, a homodimer of the second reactant present at mixing (per sample,
``second_dimer_fraction``) and a resolving power that varies linearly with m/z. Their truth
is written to ``interferences.tsv`` next to the other truth tables.

CID: MS2 of the precursor that ``precursor_mz`` selects (the demo's half-and-half dimer at
m/z 6280) at the given reaction times, by the CID rule of :mod:`intercluster.cid`
(precursor, isolation window, fragments), which the deconvolution reads with. An isomer
D_{i,j} (i + j = s) fragments into M_i and M_j, each carrying half of its ions, so the
fragment distribution is the isomer-weighted monomer count; a fraction of the precursor
survives.
"""

from __future__ import annotations

import logging
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy.special import ndtr

from . import __version__
from . import cid as cid_rule
from .centroid import peak_heights, pick_peaks
from .io import SYNTHETIC_LABEL, write_tsv
from .isotopes import FWHM_TO_SIGMA, IsotopePattern, system_patterns
from .network import ReactionNetwork, build_network, schema_convention
from .records import RateConstants, SampleConditions
from .settings import SolverOptions
from .simulate import simulate
from .system import ClusterSystem

log = logging.getLogger(__name__)

MZ_STEP = 2.0**-4  # Th; exactly representable, so the m/z arrays compress well
PRECURSOR_SURVIVAL = 0.15  # fraction of the MS2 ions that are the unfragmented precursor
BASELINE_LEVEL_SD = 3.0  # constant background, in baseline-noise sds
OUTPUT_MODES = ("dense", "sparse", "zeroed", "centroid", "centroid_height")
CENTROID_MODES = ("centroid", "centroid_height")


# --- truth -----------------------------------------------------------------------------------
def simulate_truth(
    network: ReactionNetwork, constants: RateConstants, conditions: SampleConditions, times_min
):
    """Observables (n_t, 77) and isomers (n_t, n_dimers) in nmol/L at ``times_min``.

    The fast simulator at tight tolerances; the reference method when it fails.
    """
    from dataclasses import replace


    times_s = np.asarray(times_min, float) * 60.0
    fast = replace(SolverOptions.schema_default(), rtol=1e-8, atol=1e-12)
    result = None
    try:
        result = simulate(network, constants, conditions, times_s, fast)
    except Exception as exc:  # noqa: BLE001 - fall back to the reference integrator
        log.warning("fast simulator failed (%s); using the reference method", exc)
    if result is not None and not result.ok:
        log.warning("fast simulator: %s; using the reference method", result.message)
        result = None
    if result is None:
        reference = replace(fast, method="reference")
        result = simulate(network, constants, conditions, times_s, reference)
    if not result.ok:
        raise RuntimeError(f"truth simulation failed: {result.message}")
    return result.observables, result.isomers


def true_tmax(times_min, normalised: np.ndarray) -> np.ndarray:
    """t_max of each noise-free curve: the time of its maximum on the given (fine) grid."""
    return np.asarray(times_min, float)[np.argmax(normalised, axis=0)]


# --- spectra ---------------------------------------------------------------------------------
def mz_grid(mz_range, step: float = MZ_STEP) -> np.ndarray:
    lo, hi = float(mz_range[0]), float(mz_range[1])
    return np.arange(np.ceil(lo / step), np.floor(hi / step) + 1) * step


def _flatten(patterns: list[IsotopePattern]):
    mz = np.concatenate([p.mz for p in patterns])
    prob = np.concatenate([p.prob for p in patterns])
    col = np.repeat(np.arange(len(patterns)), [len(p.mz) for p in patterns])
    return mz, prob, col


def resolving_power_at(mz, resolving_power: float, slope_per_kth: float = 0.0, mz_ref=0.0):
    """R(m/z) = R (1 + slope (m/z - mz_ref) / 1000 Th): linear in m/z, constant at slope 0."""
    r = float(resolving_power) * (1.0 + float(slope_per_kth) * (np.asarray(mz) - mz_ref) / 1e3)
    return np.maximum(r, 1e-3 * float(resolving_power))


def expected_counts(grid, flat, abundances, resolving_power, shift_ppm, n_sigma=6.0,
                    r_slope: float = 0.0, mz_ref: float = 0.0, tail: float = 0.0,
                    tail_slope: float = 0.0):  # fmt: skip
    """Expected ion counts per bin (bins centred on ``grid``; Gaussian peaks integrated).

    ``r_slope``: relative change of the resolving power per 1000 Th about ``mz_ref``
    (:func:`resolving_power_at`). ``tail`` > 0: exponentially modified Gaussian peaks, an
    exponential tail of ``tail`` Gaussian sds towards higher m/z, the peak's mean (its
    centroid) at the nominal m/z (``scipy.stats.exponnorm``, integrated over the bins);
    ``tail_slope``: the tail's relative change per 1000 Th about ``mz_ref`` (at least 0).
    """
    peak_mz, peak_prob, peak_col = flat
    weight = np.asarray(abundances, float)[peak_col] * peak_prob
    keep = weight > 0
    centre = peak_mz[keep] * (1.0 + shift_ppm * 1e-6)
    weight = weight[keep]
    r = resolving_power_at(centre, resolving_power, r_slope, mz_ref) if r_slope else resolving_power
    sigma = centre / r * FWHM_TO_SIGMA
    step = grid[1] - grid[0]
    tailed = tail > 0
    if tailed:
        # per peak: the tail linear in m/z (constant at tail_slope 0)
        tail = np.maximum(tail * (1.0 + tail_slope * (centre - mz_ref) * 1e-3), 0.0)
        centre = centre - tail * sigma  # the Gaussian core: the mean is core + tail sigma
    reach = n_sigma + 12.0 * np.max(tail)  # the tail falls to 1e-5 about 11.5 tail sds out
    half = int(np.ceil(reach * sigma.max() / step)) + 1
    first = np.rint((centre - grid[0]) / step).astype(np.int64) - half
    idx = first[:, None] + np.arange(2 * half + 1)[None, :]
    lower = (grid[0] + (idx - 0.5) * step - centre[:, None]) / sigma[:, None]
    upper = lower + step / sigma[:, None]
    if tailed:
        from scipy.stats import exponnorm

        # exponnorm needs K > 0: a tail clipped to 0 by the slope is the Gaussian's limit
        k = np.maximum(tail, 1e-6)[:, None]
        mass = (exponnorm.cdf(upper, k) - exponnorm.cdf(lower, k)) * weight[:, None]
    else:
        mass = (ndtr(upper) - ndtr(lower)) * weight[:, None]
    inside = (idx >= 0) & (idx < grid.size)
    return np.bincount(idx[inside], weights=mass[inside], minlength=grid.size)


def background_counts(grid, base_peak: float, background: dict | None) -> np.ndarray:
    """Expected counts per point of a broad background (config ``virtual_experiment.
    background``): a Gaussian hump of ``hump_rel`` x ``base_peak`` at ``hump_mz`` (sd
    ``hump_sd`` Th) plus a slope of ``slope_rel`` x ``base_peak`` at ``slope_mz[0]`` falling
    linearly to 0 at ``slope_mz[1]``. None or all 0: zeros."""
    out = np.zeros(np.size(grid))
    if not background:
        return out
    hump = float(background.get("hump_rel", 0.0))
    if hump > 0:
        mz0, sd = float(background.get("hump_mz", 5600.0)), float(background.get("hump_sd", 300.0))
        out += hump * base_peak * np.exp(-0.5 * np.square((grid - mz0) / sd))
    slope = float(background.get("slope_rel", 0.0))
    if slope > 0:
        lo, hi = map(float, background.get("slope_mz", (5000.0, 7600.0)))
        out += slope * base_peak * np.clip((hi - grid) / (hi - lo), 0.0, 1.0)
    return out


def noisy_spectrum(rng, expected: np.ndarray, baseline_sd: float) -> np.ndarray:
    """Shot noise (Poisson) plus a noisy baseline, in whole counts.

    The baseline is a constant background of ``BASELINE_LEVEL_SD`` noise sds plus Gaussian
    noise of sd ``baseline_sd``; clipping at 0 then (almost) never happens. (Noise clipped
    at 0 around a zero baseline would make the background depend on the signal, which a
    constant baseline term cannot absorb: 1 % L1 abundance bias.)
    """
    counts = rng.poisson(expected).astype(float)
    if baseline_sd > 0:
        counts += rng.normal(BASELINE_LEVEL_SD * baseline_sd, baseline_sd, expected.size)
    return np.maximum(np.rint(counts), 0.0)


# --- interferences ---------------------------------------------------------------------------
INTERFERENCE_COLUMNS = ["time_min", "kind", "n_first", "mz", "charge", "share"]
CONTAMINANT_CHARGES = (1, 2, 3)  # |z| of the unassigned clusters, drawn uniformly
CONTAMINANT_PEAKS = 14  # isotope-like envelope: binomial over this many 1/z-spaced peaks
CONTAMINANT_P = 0.35  # binomial probability of that envelope (maximum at ~5 peaks above mono)
ISOTOPE_SPACING = 1.00235  # Th x z between neighbouring nominal isotope peaks of a cluster


@dataclass(frozen=True)
class Interferences:
    """What real spectra hold beyond the model's 77 ions (config ``interferences``).

    * ``trimer_fraction``: share of all ions that are trimers (3 subunits, charge three
      times the monomer's, isotope spacing 1/3 Th). Their composition follows the monomer
      composition distribution of the moment: a trimer is three monomers drawn at random,
      so its first-metal count is distributed as the sum of three such draws.
    * ``contaminants`` ``n`` unassigned clusters with ``fraction`` of all ions between them
      (weights lognormal, sd 0.5): m/z uniform in the window, charge uniform in 1..3 (the
      system's polarity), envelope binomial(``CONTAMINANT_PEAKS``, ``CONTAMINANT_P``) over
      peaks 1.00235/z apart; constant share in time (ligand ions, fragments, contaminants).
    * ``dimer_response``: a dimer ion's signal per molecule relative to a monomer's.
    * ``resolving_power_slope``: relative change of R per 1000 Th about the window centre.
    """

    trimer_fraction: float = 0.0
    n_contaminants: int = 0
    contaminant_fraction: float = 0.0
    dimer_response: float = 1.0
    resolving_power_slope: float = 0.0

    @classmethod
    def from_config(cls, ve: dict) -> Interferences:
        """From ``virtual_experiment``; a section without ``interferences`` gets none."""
        if "interferences" not in ve:
            return cls()
        cfg = ve["interferences"]
        return cls(
            trimer_fraction=float(cfg["trimer_fraction"]),
            n_contaminants=int(cfg["contaminants"]["n"]),
            contaminant_fraction=float(cfg["contaminants"]["fraction"]),
            dimer_response=float(cfg["dimer_response"]),
            resolving_power_slope=float(cfg["resolving_power_slope_per_1000"]),
        )

    @property
    def contaminant_share(self) -> float:
        return self.contaminant_fraction if self.n_contaminants > 0 else 0.0


def trimer_patterns(system: ClusterSystem) -> list[IsotopePattern]:
    """Isotope patterns of the trimers, first-metal count 0..3N."""
    return list(_trimer_patterns(system))


@lru_cache(maxsize=4)
def _trimer_patterns(system: ClusterSystem) -> tuple[IsotopePattern, ...]:
    from .isotopes import isotope_pattern

    charge = 3 * system.monomer_charge
    return tuple(
        isotope_pattern(system.elemental_formula(n, 3), charge)
        for n in range(3 * system.nuclearity + 1)
    )


def trimer_distribution(monomers: np.ndarray) -> np.ndarray:
    """Composition shares of the trimers from the monomer shares (n_t, N+1) -> (n_t, 3N+1)."""
    p = np.atleast_2d(np.asarray(monomers, float))
    total = p.sum(axis=1, keepdims=True)
    p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    out = np.stack([np.convolve(np.convolve(row, row), row) for row in p])
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-300)


def contaminant_patterns(rng, n: int, window, polarity_sign: int) -> list[IsotopePattern]:
    """``n`` isotope-like envelopes at random m/z and charge inside ``window``."""
    from scipy.stats import binom

    k = np.arange(CONTAMINANT_PEAKS + 1)
    prob = binom.pmf(k, CONTAMINANT_PEAKS, CONTAMINANT_P)
    keep = prob > 1e-4
    out = []
    lo, hi = float(window[0]), float(window[1])
    for _ in range(int(n)):
        z = int(rng.choice(CONTAMINANT_CHARGES))
        span = k[keep].max() * ISOTOPE_SPACING / z
        first = rng.uniform(lo + 5.0, hi - 5.0 - span)
        mz = first + k[keep] * ISOTOPE_SPACING / z
        out.append(IsotopePattern(mz, prob[keep] / prob[keep].sum(), polarity_sign * z))
    return out


@dataclass
class VirtualSample:
    """Everything the virtual experiment writes for one sample."""

    ms1: list[dict]  # per spectrum: id, time_min, mz, intensity
    cid: list[dict]
    observables: pd.DataFrame  # truth, long
    tmax: pd.DataFrame
    cid_truth: pd.DataFrame
    scans: pd.DataFrame  # per scan: time_min, native_id, shift_ppm, source_factor, ions
    interferences: pd.DataFrame | None = None  # truth of the interferences (INTERFERENCE_COLUMNS)


def _sample_rng(seed: int, sample: str, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(sample.encode()), stream])


def simulate_sample(
    system: ClusterSystem,
    ve: dict,
    sample: str,
    convention: str | None = None,
    times_min=None,
    fine_step_min: float = 0.05,
) -> VirtualSample:
    """Simulate one sample of the ``virtual_experiment`` config section (spectra + truth).

    ``convention``: the rate-law convention; ``None``: the schema's ``kinetics.convention``.
    """
    convention = schema_convention() if convention is None else convention
    # the reactants' concentrations, in the system's order (records.SampleConditions)
    conditions = SampleConditions.from_dict(
        {**ve["samples"][sample], "dead_time_s": ve["dead_time_s"]}
    )
    noise = ve["noise"]  # validated: the schema filled in every default
    calibration = ve["calibration"]
    cid_cfg = ve.get("cid", {})
    resolving_power = float(ve["resolving_power"])
    network = build_network(ve["model"], convention, system, ve["beta"])
    if times_min is None:
        times_min = np.arange(0.0, float(ve["t_end_min"]) + 1e-9, float(ve["scan_interval_min"]))
    times_min = np.asarray(times_min, float)
    cid_times = np.asarray(cid_cfg.get("times_min", []), float)
    t_end = max(times_min.max(), cid_times.max() if cid_times.size else 0.0)
    fine = np.arange(0.0, t_end + 1e-9, fine_step_min)
    all_times = np.unique(np.concatenate([times_min, fine, cid_times]))
    extra = Interferences.from_config(ve)
    obs, isomers = simulate_truth(
        network, RateConstants.from_dict(ve["rate_constants"]), conditions, all_times,
    )  # fmt: skip
    # What the spectra show: a dimer ion's signal per molecule is dimer_response times a
    # monomer's; the 77 shares (the truth of the deconvolution) are of that signal.
    signal = obs.copy()
    signal[:, network.n_monomers :] *= extra.dimer_response
    norm = signal / signal.sum(axis=1, keepdims=True)
    at = {t: n for n, t in enumerate(all_times)}
    scan_rows = [at[t] for t in times_min]
    fine_rows = [at[t] for t in fine]

    labels = system.observables()
    patterns = list(system_patterns(system))
    n_obs = len(patterns)
    grid = mz_grid(ve["mz_range"])
    window = (float(ve["mz_range"][0]), float(ve["mz_range"][1]))
    mz_ref = 0.5 * (window[0] + window[1])
    r_slope = extra.resolving_power_slope
    rng = _sample_rng(ve["seed"], sample, 0)
    # Interferences: trimers follow the monomers' composition; contaminants are fixed.
    trimer_share = extra.trimer_fraction
    contaminant_share = extra.contaminant_share
    if trimer_share > 0:
        trimers = trimer_patterns(system)
        trimer_frac = trimer_distribution(obs[:, : network.n_monomers])
        patterns += trimers
    contaminants: list[IsotopePattern] = []
    if contaminant_share > 0:
        sign = -1 if system.monomer_charge < 0 else 1
        contaminants = contaminant_patterns(_sample_rng(ve["seed"], sample, 2),
                                            extra.n_contaminants, window, sign)  # fmt: skip
        weights = np.exp(_sample_rng(ve["seed"], sample, 3).normal(0.0, 0.5, len(contaminants)))
        contaminant_frac = weights / weights.sum()
        patterns += contaminants
    model_share = 1.0 - trimer_share - contaminant_share
    if model_share <= 0:
        raise ValueError("virtual_experiment.interferences: trimers + contaminants must be < 1")
    parts = [model_share * norm]
    if trimer_share > 0:
        parts.append(trimer_share * trimer_frac)
    if contaminant_share > 0:
        parts.append(np.tile(contaminant_share * contaminant_frac, (all_times.size, 1)))
    shares = np.hstack(parts)
    flat = _flatten(patterns)
    ions = float(noise["ions_per_spectrum"])
    baseline_rel = float(noise["baseline_rel"])
    instability = float(noise["source_instability_rel"])
    offset = float(calibration["offset_ppm"])
    drift = float(calibration["drift_ppm_per_h"])
    tail = float(ve.get("peak_tail_sd", 0.0))
    tail_slope = float(ve.get("peak_tail_slope", 0.0))
    background = ve.get("background") or {}

    factors = np.exp(rng.normal(0.0, instability, times_min.size) - 0.5 * instability**2)
    shifts = offset + drift * times_min / 60.0
    expected_all = [
        expected_counts(grid, flat, ions * f * shares[row], resolving_power, shift,
                        r_slope=r_slope, mz_ref=mz_ref, tail=tail,
                        tail_slope=tail_slope)  # fmt: skip
        for f, row, shift in zip(factors, scan_rows, shifts, strict=True)
    ]
    # the background scales with each spectrum's base peak (chemical noise follows the source)
    backgrounds = [background_counts(grid, float(e.max()), background) for e in expected_all]
    # Detector noise does not follow the momentary signal: one sd for the run, relative to
    # the run's median base peak.
    baseline_sd = baseline_rel * float(np.median([e.max() for e in expected_all]))
    ms1, scans = [], []
    for n, (t, expected) in enumerate(zip(times_min, expected_all, strict=True)):
        factor, shift = float(factors[n]), float(shifts[n])
        intensity = noisy_spectrum(rng, expected + backgrounds[n], baseline_sd)
        under = backgrounds[n].sum() + BASELINE_LEVEL_SD * baseline_sd * grid.size
        native_id = f"scan={n + 1}"
        ms1.append({"id": native_id, "time_min": float(t), "mz": grid, "intensity": intensity,
                    "scan_window": window})  # fmt: skip
        scans.append(
            {"time_min": float(t), "native_id": native_id, "shift_ppm": shift,
             "source_factor": factor, "ions": ions * factor,
             # what a baseline model should take: the background and the detector's level
             "background_share": float(under / (under + expected.sum())),
             "peak_tail_sd": tail, "peak_tail_slope": tail_slope}
        )  # fmt: skip

    # CID of the precursor the config's m/z selects (intercluster.cid, the reader's rule too).
    cid, cid_rows = [], []
    if cid_times.size:
        selection = cid_rule.cid_selection(system, float(cid_cfg["precursor_mz"]))
        prec = selection.precursor
        fragments = cid_rule.fragment_distribution(
            network, isomers[[at[t] for t in cid_times]], selection
        )
        monomer_idx = np.array(selection.fragments)
        cid_rng = _sample_rng(ve["seed"], sample, 1)
        for n, (t, frac) in enumerate(zip(cid_times, fragments, strict=True)):
            abundance = np.zeros(len(patterns))
            abundance[monomer_idx] = ions * (1 - PRECURSOR_SURVIVAL) * frac
            abundance[prec] = ions * PRECURSOR_SURVIVAL
            shift = offset + drift * t / 60.0
            expected = expected_counts(grid, flat, abundance, resolving_power, shift,
                                       r_slope=r_slope, mz_ref=mz_ref, tail=tail,
                                       tail_slope=tail_slope)  # fmt: skip
            expected = expected + background_counts(grid, float(expected.max()), background)
            intensity = noisy_spectrum(cid_rng, expected, baseline_sd)
            cid.append(
                {"id": f"scan={n + 1}", "time_min": float(t), "mz": grid, "intensity": intensity,
                 "scan_window": window, "precursor_mz": selection.precursor_mz,
                 "precursor_charge": selection.precursor_charge}
            )  # fmt: skip
            for k, m in enumerate(labels.loc[monomer_idx, "n_first"]):
                cid_rows.append({"time_min": float(t), "n_first": int(m), "fraction": frac[k]})

    n_k = len(labels)
    observables = pd.DataFrame(
        {
            "time_min": np.repeat(times_min, n_k),
            "species": np.tile(labels["species"].to_numpy(), len(times_min)),
            "charge": np.tile(labels["charge"].to_numpy(), len(times_min)),
            "n_first": np.tile(labels["n_first"].to_numpy(), len(times_min)),
            "concentration_nM": obs[scan_rows].ravel(),
            "intensity_norm": norm[scan_rows].ravel(),
        }
    )
    fine_norm = norm[fine_rows]
    tmax = labels[["species", "charge", "n_first"]].copy()
    tmax["t_max_min"] = true_tmax(fine, fine_norm)
    tmax["max_intensity_norm"] = fine_norm.max(axis=0)
    cid_truth = pd.DataFrame(cid_rows, columns=["time_min", "n_first", "fraction"])
    scans_df = pd.DataFrame(scans)
    rows = []
    extra_patterns = patterns[n_obs:]
    n_trimers = len(extra_patterns) - len(contaminants)
    for t, row in zip(times_min, scan_rows, strict=True):
        for k, pattern in enumerate(extra_patterns):
            trimer = k < n_trimers
            rows.append({"time_min": float(t), "kind": "trimer" if trimer else "contaminant",
                         "n_first": k if trimer else -1, "mz": pattern.average_mz,
                         "charge": int(pattern.charge),
                         "share": float(shares[row, n_obs + k])})  # fmt: skip
    interferences = pd.DataFrame(rows, columns=INTERFERENCE_COLUMNS)
    for frame in (observables, tmax, cid_truth, scans_df, interferences):
        frame["source"] = SYNTHETIC_LABEL
    return VirtualSample(ms1, cid, observables, tmax, cid_truth, scans_df, interferences)


# --- what an exporter writes ------------------------------------------------------------------
def sparse_profile(
    mz: np.ndarray, intensity: np.ndarray, threshold_rel: float, keep_flanking_zeros: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The points at or above ``threshold_rel`` of the base peak (the rest left out).

    ``keep_flanking_zeros``: the left-out neighbours of every kept point are written too,
    with intensity 0 (msconvert's ``removeExtra`` keeps such flanking zeros).
    """
    mz = np.asarray(mz, float)
    intensity = np.asarray(intensity, float)
    base = float(intensity.max()) if intensity.size else 0.0
    keep = intensity >= threshold_rel * base if base > 0 else np.zeros(intensity.size, bool)
    if not keep_flanking_zeros:
        return mz[keep], intensity[keep]
    flank = np.zeros_like(keep)
    flank[:-1] |= keep[1:]
    flank[1:] |= keep[:-1]
    flank &= ~keep
    out = np.where(flank, 0.0, intensity)
    written = keep | flank
    return mz[written], out[written]


def exported_spectra(
    spectra: list[dict], options: dict | None, resolving_power: float | None = None
) -> list[dict]:
    """The spectra as written in the mode of ``options`` (config ``virtual_experiment.spectra``).

    ``dense``: unchanged; ``sparse``: :func:`sparse_profile`; ``zeroed``: every point, those
    below ``threshold_rel`` of the base peak written as 0; ``centroid``: one stick per peak
    (centroid m/z, area) from :func:`intercluster.centroid.pick_peaks`; ``centroid_height``:
    one stick per local maximum above ``centroid_min_rel`` of the base peak (apex m/z,
    height) from :func:`intercluster.centroid.peak_heights`.
    """
    options = options or {}
    mode = str(options.get("mode", "dense"))
    if mode not in OUTPUT_MODES:
        raise ValueError(f"virtual_experiment.spectra.mode must be one of {OUTPUT_MODES}")
    if mode == "dense":
        return spectra
    out = []
    for spec in spectra:
        if mode == "sparse":
            threshold = float(options.get("threshold_rel", 0.01))
            flanks = bool(options.get("keep_flanking_zeros", False))
            mz, intensity = sparse_profile(spec["mz"], spec["intensity"], threshold, flanks)
        elif mode == "zeroed":
            # every point written, those below the threshold as 0 (a smaller Q-TOF's export)
            threshold = float(options.get("threshold_rel", 0.01))
            mz, intensity = np.asarray(spec["mz"], float), np.asarray(spec["intensity"], float)
            intensity = np.where(intensity >= threshold * intensity.max(), intensity, 0.0)
        elif mode == "centroid_height":
            min_rel = float(options.get("centroid_min_rel", 0.01))
            mz, intensity = peak_heights(spec["mz"], spec["intensity"], min_rel)
        else:
            if not resolving_power:
                raise ValueError("centroid output needs the resolving power")
            mz, intensity = pick_peaks(spec["mz"], spec["intensity"], float(resolving_power))
        out.append({**spec, "mz": np.asarray(mz, float), "intensity": np.asarray(intensity, float)})
    return out


# --- mzML ------------------------------------------------------------------------------------
def write_mzml(
    path,
    spectra: list[dict],
    ms_level: int = 1,
    polarity: str = "negative scan",
    time_unit: str = "minute",
    run_id: str = "SYNTHETIC_virtual_experiment",
    label: str = SYNTHETIC_LABEL,
    resolving_power: float | None = None,
    centroided: bool = False,
) -> Path:
    """Write spectra as indexed mzML (psims; zlib at level ``ZLIB_LEVEL``, 64-bit arrays).

    ``spectra``: dicts with ``id``, ``time_min``, ``mz``, ``intensity`` (and for MS2
    ``precursor_mz``, ``precursor_charge``; optionally ``scan_window`` = (lower, upper) m/z,
    written as the scan window, MS:1000501/MS:1000500). ``time_unit`` is "minute" or "second".
    ``centroided``: the arrays are peak lists (MS:1000127 "centroid spectrum"), else
    profiles (MS:1000128 "profile spectrum").
    """
    from psims.mzml.writer import MzMLWriter

    if time_unit not in ("minute", "second"):
        raise ValueError(f"time_unit must be 'minute' or 'second', got {time_unit!r}")
    factor = 1.0 if time_unit == "minute" else 60.0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "centroid spectrum" if centroided else "profile spectrum"
    content = ["MS1 spectrum" if ms_level == 1 else "MSn spectrum", mode]
    encoding = {"m/z array": np.float64, "intensity array": np.float64}
    with (
        _zlib_level(ZLIB_LEVEL),
        open(path, "wb") as handle,
        MzMLWriter(handle, close=False) as out,
    ):
        out.controlled_vocabularies()
        out.file_description(content + [{"name": "data origin", "value": label}])
        out.software_list(
            [{"id": "intercluster", "version": __version__,
              "params": ["custom unreleased software tool", {"SYNTHETIC": label}]}]
        )  # fmt: skip
        source = out.Source(order=1, params=["electrospray ionization"])
        analyzer = out.Analyzer(order=2, params=["time-of-flight"])
        detector = out.Detector(order=3, params=["microchannel plate detector"])
        config_params = [{"simulated instrument": label}]
        if resolving_power:
            config_params.append({"simulated resolving power": float(resolving_power)})
        out.instrument_configuration_list(
            [out.InstrumentConfiguration(id="IC1", component_list=[source, analyzer, detector],
                                         params=config_params)]
        )  # fmt: skip
        out.data_processing_list(
            [out.DataProcessing(
                [out.ProcessingMethod(order=0, software_reference="intercluster",
                                      params=[{"simulated data": label}])], id="DP1")]
        )  # fmt: skip
        with out.run(id=run_id, instrument_configuration="IC1"):
            with out.spectrum_list(count=len(spectra)):
                for spec in spectra:
                    mz = np.asarray(spec["mz"], np.float64)
                    intensity = np.asarray(spec["intensity"], np.float64)
                    params = [
                        {"ms level": ms_level},
                        {"total ion current": float(intensity.sum())},
                        {
                            "name": "base peak intensity",
                            "value": float(intensity.max()) if intensity.size else 0.0,
                            "unitName": "number of detector counts",
                        },
                        {"lowest observed m/z": float(mz.min()) if mz.size else 0.0},
                        {"highest observed m/z": float(mz.max()) if mz.size else 0.0},
                    ]
                    precursor = None
                    if ms_level > 1:
                        precursor = {
                            "mz": spec["precursor_mz"],
                            "charge": spec["precursor_charge"],
                            "activation": ["collision-induced dissociation",
                                           {"collision energy": 20.0}],
                            "isolation_window_args": {
                                "target": spec["precursor_mz"],
                                "lower": cid_rule.ISOLATION_HALF_WIDTH,
                                "upper": cid_rule.ISOLATION_HALF_WIDTH,
                            },
                        }  # fmt: skip
                    out.write_spectrum(
                        mz,
                        intensity,
                        id=spec["id"],
                        polarity=polarity,
                        centroided=centroided,
                        scan_start_time={
                            "name": "scan start time",
                            "value": float(spec["time_min"]) * factor,
                            "unitName": time_unit,
                        },
                        params=params,
                        scan_window_list=[tuple(spec["scan_window"])]
                        if spec.get("scan_window") is not None
                        else None,
                        precursor_information=precursor,
                        encoding=encoding,
                        compression="zlib",
                    )
    return path


# zlib level of the mzML arrays. psims compresses at zlib's default (6), which on these noisy
# float64 profiles took more than half of a virtual sample's CPU time; level 1 writes the same
# arrays (any zlib reader) ~7x faster in ~13 % more bytes.
ZLIB_LEVEL = 1


@contextmanager
def _zlib_level(level: int):
    """psims' array encoder compresses at ``level`` inside the block (its module's ``zlib``
    is swapped for one whose ``compress`` has that default), restored afterwards."""
    from psims.mzml import binary_encoding

    original = binary_encoding.zlib
    binary_encoding.zlib = SimpleNamespace(
        compress=lambda data, level=level: zlib.compress(data, level),
        decompress=zlib.decompress,
    )
    try:
        yield
    finally:
        binary_encoding.zlib = original


def write_sample(vs: VirtualSample, mzml, cid_mzml, observables, tmax, cid_truth, scans,
                 resolving_power=None, sample: str = "",
                 spectra: dict | None = None, interferences=None) -> None:  # fmt: skip
    """Write the spectra (mzML) and the truth tables of one virtual sample.

    ``spectra``: the output mode (config ``virtual_experiment.spectra``; default dense).
    ``interferences``: where the truth of the interferences goes (trimer and contaminant
    shares per scan; the header only when there are none).
    """

    run_id = f"SYNTHETIC_virtual_experiment_{sample}" if sample else "SYNTHETIC_virtual_experiment"
    mode = str((spectra or {}).get("mode", "dense"))
    extra = {"centroided": True} if mode in CENTROID_MODES else {}
    ms1 = exported_spectra(vs.ms1, spectra, resolving_power)
    cid = exported_spectra(vs.cid, spectra, resolving_power)
    write_mzml(mzml, ms1, ms_level=1, run_id=run_id, resolving_power=resolving_power, **extra)
    write_mzml(cid_mzml, cid, ms_level=2, run_id=f"{run_id}_CID",
               resolving_power=resolving_power, **extra)  # fmt: skip
    write_tsv(vs.observables, observables)
    write_tsv(vs.tmax, tmax)
    write_tsv(vs.cid_truth, cid_truth)
    write_tsv(vs.scans, scans)
    if interferences is not None:
        table = vs.interferences
        if table is None:
            table = pd.DataFrame(columns=[*INTERFERENCE_COLUMNS, "source"])
        write_tsv(table, interferences)
