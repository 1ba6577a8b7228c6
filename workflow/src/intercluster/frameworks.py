"""Framework systems without a kinetic model: a SYNTHETIC virtual experiment and its read-out.

For a cluster system whose file says ``kinetics.model_family: none`` (e.g. the second
system file under ``resources/systems/``) the quantities of interest are the *framework
populations* (the share of each species family among all clusters) and, per framework, the
*composition distribution* (share of each count of the first metal) and its mean, against
time. Everything here is derived from a :class:`~intercluster.system.SystemDefinition`.

Deconvolution over ion forms: :func:`ion_form_basis` has one column per row of
:meth:`~intercluster.system.SystemDefinition.ion_form_table` (family x composition x charge x
Na/H adduct); :func:`deconvolve_ion_forms` fits every spectrum with the library's NNLS fit
(:func:`intercluster.deconvolution.deconvolve_spectra`) and writes one row per ion form and
time; :func:`framework_summary` sums the ion forms of each family member and normalises.

The virtual experiment (:func:`simulate_framework_experiment`) is SYNTHETIC: no raw data of
such a reaction are public. Its time evolution is a documented choice, not a mechanism:

* populations: the families of ``chain`` decay A -> B -> C with first-order time constants
  ``tau_min`` (Bateman solution), from the initial shares of the reactants (for Lin 2022:
  the framework rich in the second metal fades into the intermediate one, which fades into
  the framework rich in the first metal; the config names the chain);
* compositions: inside family ``f`` with range ``lo..hi`` the first-metal count is
  ``lo + Binomial(hi - lo, q_f(t))`` with ``q_f(t) = q_end + (q_start - q_end) exp(-t / tau)``;
* ion forms: each family member's abundance is split over its ion forms by fixed weights
  (``form_weights``: charge state -> weight, default equal); fragments (``role: fragment``)
  are a fixed fraction of their parent framework (same ligand shell minus the lost unit),
  with the parent's composition distribution clipped to their own range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .deconvolution import (
    INTENSITY_COLUMNS,
    coefficient_sd_matrix,
    deconvolve_spectra,
    fit_run,
    qc_table,
)
from .io import write_json, write_tsv
from .settings import DeconvolutionSettings
from .spectrum_basis import PatternBasis
from .system import SystemDefinition
from .unlisted import unlisted_table
from .virtual_experiment import _flatten, expected_counts, mz_grid, noisy_spectrum

ION_FORM_INTENSITY_COLUMNS = [
    "time_min", "family", "n_first", "charge", "n_na", "n_h", "label", "intensity",
]  # fmt: skip
SUMMARY_COLUMNS = ["time_min", "family", "n_first", "intensity", "population", "composition"]


# --- deconvolution over ion forms ------------------------------------------------------------
def ion_form_basis(system: SystemDefinition) -> PatternBasis:
    """One isotope pattern per ion form of the system's enabled families."""
    table = system.ion_form_table()
    patterns = [
        system.isotope_pattern(row.family, int(row.n_first), form)
        for row, form in zip(table.itertuples(), _forms_of(system, table), strict=True)
    ]
    return PatternBasis.from_patterns(patterns, table)


def ion_form_intensities(times_min, coef: np.ndarray, labels: pd.DataFrame,
                         sd: np.ndarray | None = None) -> pd.DataFrame:  # fmt: skip
    """Long table, one row per time and ion form (``coef``: times x ion forms).

    ``sd``: the abundances' standard errors (same shape,
    :func:`intercluster.deconvolution.coefficient_sd`), written as ``intensity_sd`` after
    the other columns; without it (truth tables) there is no such column.
    """
    n_t, n_k = coef.shape
    out = {"time_min": np.repeat(np.asarray(times_min, float), n_k)}
    for column in ("family", "n_first", "charge", "n_na", "n_h", "label"):
        out[column] = np.tile(labels[column].to_numpy(), n_t)
    out["intensity"] = coef.ravel()
    columns = list(ION_FORM_INTENSITY_COLUMNS)
    if sd is not None:
        out["intensity_sd"] = np.asarray(sd, float).reshape(coef.shape).ravel()
        columns.append("intensity_sd")
    return pd.DataFrame(out)[columns]


def deconvolve_ion_forms(
    times_min,
    mz_list: list[np.ndarray],
    intensity_list: list[np.ndarray],
    system: SystemDefinition,
    settings: DeconvolutionSettings,
    *,
    centroided: bool = False,
    windows: list | None = None,
):
    """Fit every spectrum on the ion-form basis: ``(ion-form intensities, fits)``."""
    basis = ion_form_basis(system)
    fits = deconvolve_spectra(
        mz_list, intensity_list, basis, settings, centroided=centroided, windows=windows
    )
    coef = np.array([f.coef for f in fits]).reshape(len(fits), basis.n_cols)
    return ion_form_intensities(times_min, coef, basis.labels), fits


def framework_summary(ion_forms: pd.DataFrame, system: SystemDefinition) -> pd.DataFrame:
    """Sum the ion forms of each family member; populations and composition distributions.

    ``population``: the family's share of all clusters (fragments excluded) at that time, on
    every row of the family; ``composition``: the member's share of its family.
    """
    clusters = {f.name for f in system.enabled_families if f.role != "fragment"}
    summed = (
        ion_forms.groupby(["time_min", "family", "n_first"], sort=False)["intensity"]
        .sum()
        .reset_index()
    )
    family_total = summed.groupby(["time_min", "family"])["intensity"].transform("sum")
    is_cluster = summed["family"].isin(clusters)
    time_total = summed["intensity"].where(is_cluster, 0.0).groupby(summed["time_min"]).transform(
        "sum"
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        summed["population"] = np.where(is_cluster, family_total / time_total, np.nan)
        summed["composition"] = summed["intensity"] / family_total
    return summed[SUMMARY_COLUMNS]


def mean_composition(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean first-metal count of each family against time (from :func:`framework_summary`)."""
    weighted = summary.assign(w=summary["n_first"] * summary["composition"])
    out = weighted.groupby(["time_min", "family"], sort=False)["w"].sum(min_count=1)
    return out.rename("mean_n_first").reset_index()


def population_l1(fitted: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Mean over times of the L1 distance of the framework populations (fractions)."""
    def table(s):
        return s.dropna(subset=["population"]).groupby(["time_min", "family"])["population"].first()

    a, b = table(fitted).align(table(truth), fill_value=0.0)
    return float((a - b).abs().groupby(level="time_min").sum().mean())


def composition_l1(
    fitted: pd.DataFrame, truth: pd.DataFrame, family: str, min_share: float = 0.02
) -> float:
    """Mean over times of the L1 distance of one family's composition distribution.

    Only times at which the family holds at least ``min_share`` of the truth's total signal
    count: a family that is (nearly) absent has no composition to recover.
    """
    share = truth.groupby(["time_min", "family"])["intensity"].sum().unstack()[family]
    share = share / truth.groupby("time_min")["intensity"].sum()
    times = share.index[share >= min_share]

    def table(s):
        part = s[(s["family"] == family) & s["time_min"].isin(times)]
        return part.set_index(["time_min", "n_first"])["composition"].fillna(0.0)

    a, b = table(fitted).align(table(truth), fill_value=0.0)
    return float((a - b).abs().groupby(level="time_min").sum().mean())


# --- the SYNTHETIC virtual experiment --------------------------------------------------------
@dataclass(frozen=True)
class FrameworkEvolution:
    """Parameters of the synthetic time evolution (module docstring)."""

    initial: dict[str, float]  # family -> initial share of the clusters (the reactants)
    chain: tuple[str, ...]  # A -> B -> C families (A decays into B, B into C)
    tau_min: tuple[float, ...]  # one first-order time constant per step of the chain
    q_start: dict[str, float]  # family -> binomial success probability at t = 0
    q_end: dict[str, float]
    q_tau_min: float = 15.0
    form_weights: dict[int, float] = field(default_factory=dict)  # charge -> weight
    fragment_fraction: float = 0.05  # fragment abundance relative to its parent

    @classmethod
    def from_config(cls, cfg: dict) -> FrameworkEvolution:
        return cls(
            initial={k: float(v) for k, v in cfg["initial"].items()},
            chain=tuple(cfg["chain"]),
            tau_min=tuple(float(t) for t in cfg["tau_min"]),
            q_start={k: float(v) for k, v in cfg["q_start"].items()},
            q_end={k: float(v) for k, v in cfg["q_end"].items()},
            q_tau_min=float(cfg.get("q_tau_min", 15.0)),
            form_weights={int(k): float(v) for k, v in (cfg.get("form_weights") or {}).items()},
            fragment_fraction=float(cfg.get("fragment_fraction", 0.05)),
        )


def _chain_populations(evolution: FrameworkEvolution, times_min: np.ndarray) -> dict:
    """Bateman solution of A -> B -> C plus each family's initial share (sums to 1)."""
    t = np.asarray(times_min, float)
    a, b, c = (evolution.chain + (None, None))[:3]
    k1, k2 = (1.0 / tau for tau in (evolution.tau_min + (np.inf,))[:2])
    a0 = evolution.initial.get(a, 0.0)
    b0 = evolution.initial.get(b, 0.0) if b else 0.0
    pops = {name: np.full_like(t, share) for name, share in evolution.initial.items()}
    pa = a0 * np.exp(-k1 * t)
    if b is None:
        return {**pops, a: pa}
    if abs(k1 - k2) < 1e-12:
        pb_from_a = a0 * k1 * t * np.exp(-k1 * t)
    else:
        pb_from_a = a0 * k1 / (k2 - k1) * (np.exp(-k1 * t) - np.exp(-k2 * t))
    pb = pb_from_a + b0 * np.exp(-k2 * t)
    pops[a], pops[b] = pa, pb
    if c is not None:
        pops[c] = evolution.initial.get(c, 0.0) + (a0 + b0) - pa - pb
    total = sum(pops.values())
    return {name: p / total for name, p in pops.items()}


def _parent_of(system: SystemDefinition, fragment) -> str:
    """The cluster family a fragment comes from: the nearest one with no fewer atoms and
    ligands (a fragment only loses units)."""

    def ligands(fam) -> int:
        return sum(n for _, n in fam.ligands)

    parents = [
        f for f in system.enabled_families
        if f.role != "fragment" and f.nuclearity >= fragment.nuclearity
        and ligands(f) >= ligands(fragment)
    ]  # fmt: skip
    if not parents:
        raise ValueError(f"{system.source or system.name}: no parent family of {fragment.name}")
    return min(
        parents,
        key=lambda f: (f.nuclearity - fragment.nuclearity, ligands(f) - ligands(fragment)),
    ).name


def framework_truth(
    system: SystemDefinition, evolution: FrameworkEvolution, times_min
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic truth: ``(ion-form abundances (fractions), summary)`` per time.

    Abundances are shares of the total ion signal (all ion forms sum to 1 at each time).
    """
    # here, not at the top: scipy.stats costs ~0.8 s CPU to import and rule deconvolve
    # imports this module without ever needing it
    from scipy.stats import binom

    times = np.asarray(times_min, float)
    pops = _chain_populations(evolution, times)
    member: dict[tuple[str, int], np.ndarray] = {}
    families = {f.name: f for f in system.enabled_families}
    for fam in families.values():
        if fam.role == "fragment":
            continue
        lo, hi = fam.composition
        q = evolution.q_end[fam.name] + (
            evolution.q_start[fam.name] - evolution.q_end[fam.name]
        ) * np.exp(-times / evolution.q_tau_min)
        for n in fam.compositions:
            member[(fam.name, n)] = pops.get(fam.name, np.zeros_like(times)) * binom.pmf(
                n - lo, hi - lo, q
            )
    for fam in families.values():
        if fam.role != "fragment":
            continue
        parent = _parent_of(system, fam)
        for n in fam.compositions:
            member[(fam.name, n)] = evolution.fragment_fraction * member.get(
                (parent, n), np.zeros_like(times)
            )
    table = system.ion_form_table()
    weight = np.array([evolution.form_weights.get(int(z), 1.0) for z in table["charge"]])
    # Normalise the weights inside each family member, so its forms share its abundance.
    keys = list(zip(table["family"], table["n_first"], strict=True))
    per_member = (
        pd.Series(weight).groupby([table["family"], table["n_first"]]).transform("sum").to_numpy()
    )
    share = np.divide(weight, per_member, out=np.zeros_like(weight), where=per_member > 0)
    abundance = np.array([member[k] for k in keys]).T * share[None, :]  # times x forms
    abundance /= abundance.sum(axis=1, keepdims=True)
    forms = ion_form_intensities(times, abundance, table)
    return forms, framework_summary(forms, system)


@dataclass(frozen=True)
class FrameworkExperiment:
    """SYNTHETIC spectra of a framework system and their truth."""

    times_min: np.ndarray
    mz: np.ndarray  # the common m/z grid (bin centres)
    spectra: list[np.ndarray]  # ion counts per bin, one array per time
    truth_forms: pd.DataFrame  # ion-form shares (ION_FORM_INTENSITY_COLUMNS)
    truth: pd.DataFrame  # framework_summary of the truth
    resolving_power: float


def simulate_framework_experiment(
    system: SystemDefinition,
    evolution: FrameworkEvolution,
    times_min,
    *,
    resolving_power: float,
    ions_per_spectrum: float,
    baseline_rel: float,
    seed: int,
    mz_step: float = 2.0**-6,
    shift_ppm: float = 0.0,
) -> FrameworkExperiment:
    """Profile spectra (Gaussian peaks at ``resolving_power``, shot and baseline noise).

    The m/z window spans every ion form with 1 % margins on both sides. The resolving power,
    noise and seed are the ``framework_experiment`` config section's (required there, so no
    default here).
    """

    times = np.asarray(times_min, float)
    forms, summary = framework_truth(system, evolution, times)
    basis = ion_form_basis(system)
    lo, hi = basis.mz_span
    grid = mz_grid((0.99 * lo, 1.01 * hi), mz_step)
    patterns = [
        system.isotope_pattern(row.family, int(row.n_first), form)
        for row, form in zip(basis.labels.itertuples(), _forms_of(system, basis.labels),
                             strict=True)
    ]  # fmt: skip
    flat = _flatten(patterns)
    rng = np.random.default_rng(seed)
    n_forms = basis.n_cols
    shares = forms["intensity"].to_numpy().reshape(times.size, n_forms)
    spectra = []
    for row in shares:
        expected = expected_counts(grid, flat, row * ions_per_spectrum, resolving_power,
                                   shift_ppm)  # fmt: skip
        baseline_sd = baseline_rel * float(expected.max())
        spectra.append(noisy_spectrum(rng, expected, baseline_sd))
    return FrameworkExperiment(times, grid, spectra, forms, summary, float(resolving_power))


def _forms_of(system: SystemDefinition, labels: pd.DataFrame):
    forms = {
        (fam.name, form.charge, form.n_na, form.n_h): form
        for fam in system.enabled_families
        for form in fam.ion_forms
    }
    return [forms[(r.family, r.charge, r.n_na, r.n_h)] for r in labels.itertuples()]


# --- a kinetic system: ion forms summed per kinetic observable --------------------------------
NORMALISE_OVER = ("observables", "all_clusters")


def observable_intensities(
    ion_forms: pd.DataFrame, system: SystemDefinition, normalise_over: str = "observables"
) -> pd.DataFrame:
    """Sum the ion forms of each kinetic observable (the 26 + 51 of eq 1 for the demo).

    Returns the deconvolution's intensities table (``INTENSITY_COLUMNS``): per time and
    observable, in :meth:`~intercluster.system.SystemDefinition.kinetic_observables` order,
    the summed ``intensity``, its standard error (``intensity_sd``: the ion forms' errors
    combined as independent, NaN where ``ion_forms`` has no ``intensity_sd``) and its share
    (``intensity_norm``, the TIC normalisation) of the total ``normalise_over`` names
    (config ``deconvolution.normalise_over``): ``observables`` (default, as eq 1: families
    the model does not know, e.g. trimers, are not in the total) or ``all_clusters`` (every
    enabled family except fragments). The first metal's count keeps the demo tables'
    column name (the fourth of ``INTENSITY_COLUMNS``).
    """
    if normalise_over not in NORMALISE_OVER:
        raise ValueError(f"normalise_over must be one of {NORMALISE_OVER}, got {normalise_over!r}")

    observables = system.kinetic_observables()
    summed = ion_forms.groupby(["time_min", "family", "n_first"], sort=False)["intensity"].sum()
    times = ion_forms["time_min"].drop_duplicates().to_numpy()
    keys = pd.MultiIndex.from_arrays([observables["family"], observables["n_first"]])
    # one unstack, not a reindex per spectrum (that was a tenth of a full-model file's time)
    wide = summed.unstack(["family", "n_first"]).reindex(index=times, columns=keys)
    coef = wide.to_numpy(float)
    if "intensity_sd" in ion_forms.columns:
        variance = (ion_forms["intensity_sd"] ** 2).groupby(
            [ion_forms["time_min"], ion_forms["family"], ion_forms["n_first"]], sort=False
        ).sum(min_count=1)
        sd = np.sqrt(variance.unstack(["family", "n_first"]).reindex(index=times, columns=keys)
                     .to_numpy(float))  # fmt: skip
    else:
        sd = np.full_like(coef, np.nan)
    total = coef.sum(axis=1, keepdims=True)
    if normalise_over == "all_clusters":
        clusters = {f.name for f in system.enabled_families if f.role != "fragment"}
        others = ion_forms[
            ion_forms["family"].isin(clusters - set(observables["family"]))
        ].groupby("time_min")["intensity"].sum()
        total = total + others.reindex(times, fill_value=0.0).to_numpy(float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(total > 0, coef / np.where(total > 0, total, 1.0), np.nan)
    n_t, n_k = coef.shape
    values = (
        np.repeat(times.astype(float), n_k),
        np.tile(observables["species"].to_numpy(), n_t),
        np.tile(observables["charge"].to_numpy(), n_t),
        np.tile(observables["n_first"].to_numpy(), n_t),
        coef.ravel(),
        norm.ravel(),
        sd.ravel(),
    )
    return pd.DataFrame(dict(zip(INTENSITY_COLUMNS, values, strict=True)))


def deconvolve_run_ion_forms(run, system: SystemDefinition, settings: DeconvolutionSettings):
    """Deconvolve an MS1 run over the system's ion forms, as ``settings`` say.

    Returns ``(ion_forms, intensities, qc, resolving_power)``: one row per time and ion form,
    the kinetic observables' sums (:func:`observable_intensities`, normalised over
    ``settings.normalise_over``; ``None`` for a system without a kinetic model) and the QC of
    :func:`intercluster.deconvolution.qc_table` with the columns of
    :func:`intercluster.unlisted.unlisted_table` after it.
    """

    basis = ion_form_basis(system)
    normalise_over = settings.normalise_over
    fits, resolving_power = fit_run(run, basis, settings)
    coef = np.array([f.coef for f in fits]).reshape(len(fits), basis.n_cols)
    ion_forms = ion_form_intensities(run.times_min, coef, basis.labels,
                                     coefficient_sd_matrix(fits, basis.n_cols))  # fmt: skip
    kinetic = system.kinetics.model_family != "none"
    intensities = observable_intensities(ion_forms, system, normalise_over) if kinetic else None
    qc = qc_table(run.times_min, run.native_ids, fits)
    # what the robust pass left unexplained, named where a plausible unlisted ion form sits
    # (new columns after the deconvolution's own: intercluster.unlisted)

    qc = pd.concat([qc, unlisted_table(fits, system)], axis=1)
    return ion_forms, intensities, qc, resolving_power


def _centroid_intensity(qc: pd.DataFrame) -> str:
    """The file's reading of its sticks (one per file): ``area``, ``height``, or ``-``."""
    if "centroid_intensity" not in qc or qc.empty:
        return "-"
    return str(qc["centroid_intensity"].iloc[0])


def _spectrum_model(qc: pd.DataFrame) -> dict:
    """run.json's record of the file's peak shape and baseline (one per file, qc.tsv)."""
    if len(qc) == 0 or "peak_shape" not in qc:
        return {"peak_shape": "gaussian", "peak_tail": 0.0, "peak_tail_slope": 0.0,
                "baseline_model": "constant", "baseline_fraction_median": None}  # fmt: skip
    return {
        "peak_shape": str(qc["peak_shape"].iloc[0]),
        "peak_tail": float(qc["peak_tail"].iloc[0]),
        # the tail's relative change per 1000 Th (deconvolution.tail_slope; 0: one tail)
        "peak_tail_slope": float(qc["peak_tail_slope"].iloc[0]) if "peak_tail_slope" in qc
        else 0.0,
        "baseline_model": str(qc["baseline_model"].iloc[0]),
        "baseline_fraction_median": float(qc["baseline_fraction"].median()),
    }


def write_run_outputs(
    sample: str,
    run,
    system: SystemDefinition,
    ion_forms: pd.DataFrame,
    qc: pd.DataFrame,
    ion_forms_path,
    qc_path,
    run_path,
    warnings: tuple[str, ...] | list[str] = (),
) -> dict:
    """Write a deconvolved run's ``ion_forms.tsv``, ``qc.tsv`` and ``run.json`` (rules
    ``deconvolve`` and ``framework_deconvolve``); returns run.json's content.

    ``run.json`` is where whether the data are synthetic is recorded, once, from the file
    itself (``run.synthetic``); figures and reports read it from there. ``warnings``: one
    line each, as logged.
    """

    write_tsv(ion_forms, ion_forms_path)
    write_tsv(qc, qc_path)
    info = {
        "sample": str(sample),
        "synthetic": bool(run.synthetic),
        "system": system.name,
        "mode": run.mode,
        "n_spectra": len(run),
        "n_ion_forms": int(ion_forms["label"].nunique()),
        # a centroid file's sticks read as area or height (qc.tsv); "-" for profiles
        "centroid_intensity": _centroid_intensity(qc),
        # the spectrum model of the file (qc.tsv): peak shape, its EMG tail (tau / sigma),
        # the baseline model and its median share of the fitted signal
        **_spectrum_model(qc),
        # what the log warned about the run (an unusually long dead time, ...)
        "warnings": list(warnings),
    }
    write_json(info, run_path)
    return info
