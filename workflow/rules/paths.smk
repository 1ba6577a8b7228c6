# The output layout, declared once: one named pattern per artefact (PATHS), the list of fits
# (FITS) and the default targets every stage adds to. Every rule's output, input function,
# target and consumer formats these names; no rule file names a path of another's (rule
# files share nothing but what common.smk and this file define).
# Wildcards: {sample} a row of the sheet, {fit_sample} a fit (a sample, or JOINT_SAMPLE for
# all samples jointly), {model} a kinetic model, {virtual_sample} a virtual-experiment sample.

from collections import namedtuple

RESULTS = "results"
FIT = f"{RESULTS}/fit/{{fit_sample}}/model{{model}}"
FIGURES_DIR = f"{RESULTS}/figures"


def _layout(**patterns):
    """A read-only name -> pattern record (PATHS.intensities, PATHS._asdict())."""
    return namedtuple("Layout", patterns)(**patterns)


PATHS = _layout(
    # the SYNTHETIC virtual experiment (experiment.smk; VIRTUAL_EXPERIMENT_DIR: common.smk)
    virtual_mzml=f"{VIRTUAL_EXPERIMENT_DIR}/{{virtual_sample}}.mzML",
    virtual_cid_mzml=f"{VIRTUAL_EXPERIMENT_DIR}/{{virtual_sample}}_cid.mzML",
    virtual_truth=f"{VIRTUAL_EXPERIMENT_DIR}/truth/{{virtual_sample}}/{{table}}.tsv",
    # deconvolution (experiment.smk)
    ion_forms=f"{RESULTS}/deconvolution/{{sample}}/ion_forms.tsv",
    intensities=f"{RESULTS}/deconvolution/{{sample}}/intensities.tsv",
    qc=f"{RESULTS}/deconvolution/{{sample}}/qc.tsv",
    cid=f"{RESULTS}/deconvolution/{{sample}}/cid.tsv",
    run=f"{RESULTS}/deconvolution/{{sample}}/run.json",
    nuisance=f"{RESULTS}/deconvolution/{{sample}}/nuisance.tsv",
    # network and the paper's Table 1 (network.smk)
    network_sbml=f"{RESULTS}/network/model{{model}}.xml",
    table1_observables=f"{RESULTS}/simulations/table1/model{{model}}/observables.tsv",
    table1_isomers=f"{RESULTS}/simulations/table1/model{{model}}/isomers.parquet",
    # the fit (fit.smk)
    tmax_experiment=f"{RESULTS}/fit/{{sample}}/tmax_experiment.tsv",
    chunk=f"{RESULTS}/fit/{{sample}}/model{{model}}/chunks/{{scatteritem}}.parquet",
    chi2=f"{FIT}/chi2.parquet",
    residuals=f"{FIT}/residuals.tsv",
    chi2_weighted=f"{FIT}/chi2_weighted.parquet",
    zoom_tmax=f"{FIT}/zoom/tmax.parquet",
    zoom_chi2=f"{FIT}/zoom/chi2.parquet",
    zoom_residuals=f"{FIT}/zoom/residuals.tsv",
    best=f"{FIT}/best.json",
    best_simulation=f"{FIT}/best_simulation/{{sample}}.tsv",
    best_isomers=f"{FIT}/best_simulation/{{sample}}_isomers.parquet",
    dimer_response=f"{FIT}/dimer_response.tsv",
    plausibility=f"{RESULTS}/plausibility/{{fit_sample}}/model{{model}}.json",
    plausibility_summary=f"{RESULTS}/plausibility/summary.md",
    # beyond the paper (uncertainty.smk)
    best_sbml=f"{FIT}/best.xml",
    model_comparison_tsv=f"{RESULTS}/fit/{{fit_sample}}/model_comparison.tsv",
    model_comparison_md=f"{RESULTS}/fit/{{fit_sample}}/model_comparison.md",
    trajectory=f"{FIT}/trajectory.parquet",
    petab_yaml=f"{RESULTS}/petab/{{fit_sample}}/model{{model}}/problem.yaml",
    petab_sbml=f"{RESULTS}/petab/{{fit_sample}}/model{{model}}/model.xml",
    petab_table=f"{RESULTS}/petab/{{fit_sample}}/model{{model}}/{{table}}.tsv",
    coverage_grid=f"{RESULTS}/uncertainty/coverage/grid_tmax.parquet",
    coverage_replica=f"{RESULTS}/uncertainty/coverage/replicas/{{replica}}.tsv",
    coverage_summary=f"{RESULTS}/uncertainty/coverage/summary.tsv",
    coverage_intervals=f"{RESULTS}/uncertainty/coverage/intervals.tsv",
    coverage_report=f"{RESULTS}/uncertainty/coverage/report.md",
    # model 4 (model4.smk)
    beta_record=f"{RESULTS}/fit/{{fit_sample}}/model4/beta.json",
    beta_profile=f"{RESULTS}/fit/{{fit_sample}}/model4/beta_profile.tsv",
    # figures: PNG (in the report), PDF and the params sidecar; tables of the report
    figure=f"{FIGURES_DIR}/{{figure}}.{{ext}}",
    report_table=f"{FIGURES_DIR}/tables/{{table}}.html",
    # a framework system's outputs (frameworks.smk; FRAMEWORK_DIR: common.smk)
    framework_mzml=f"{FRAMEWORK_DIR}/virtual_experiment/{{sample}}.mzML",
    framework_truth=f"{FRAMEWORK_DIR}/virtual_experiment/truth/{{sample}}/{{table}}.tsv",
    framework_table=f"{FRAMEWORK_DIR}/deconvolution/{{sample}}/{{table}}",
    framework_figure=f"{FRAMEWORK_DIR}/figures/frameworks_{{sample}}.{{ext}}",
    # the time and memory of a job (snakemake's benchmark: directive)
    benchmark=f"{RESULTS}/benchmarks/{{rule}}/{{job}}.tsv",
)


class _KeepOpen(dict):
    def __missing__(self, key):
        return f"{{{key}}}"


def fill(pattern, **values):
    """``pattern`` with the given wildcards filled in and the others left open
    (``fill(PATHS.best, fit_sample="all")`` is still a pattern of ``{model}``)."""
    return pattern.format_map(_KeepOpen(values))


def figure(name, ext):
    """File ``ext`` (png, pdf or params.json) of figure ``name`` (a pattern itself)."""
    return fill(PATHS.figure, figure=name, ext=ext)


def figure_files(name, exts=("png", "pdf", "params.json")):
    """The files of figure ``name`` (a pattern itself, e.g. ``tmax_residuals_{fit_sample}``)."""
    return [figure(name, ext) for ext in exts]


def benchmark_of(rule, job):
    """The benchmark table of one job of ``rule`` (``job``: a pattern of its wildcards)."""
    return fill(PATHS.benchmark, rule=rule, job=job)


# --- the fits ----------------------------------------------------------------------------
# Every fit: each sample on its own, then all samples jointly (JOINT_SAMPLE).
FITS = list(SAMPLES) + [JOINT_SAMPLE]


def samples_of_fit(fit_sample):
    """The samples a fit covers: one sample, or every sample for the joint fit."""
    return list(SAMPLES) if fit_sample == JOINT_SAMPLE else [fit_sample]


def of_fit_samples(pattern, fit, **values):
    """``pattern`` (of ``{sample}``, and of ``{fit_sample}`` when it names it) for every
    sample of the fit ``fit``, in sheet order."""
    return [
        fill(pattern, sample=s, fit_sample=fit, **values) for s in samples_of_fit(fit)
    ]


# --- model 4 ------------------------------------------------------------------------------
# Fitted once, every sample jointly (model4.smk): its record, its simulation per sample
# (Figure S6, Figure 3) and its plausibility record (with ΔG_mix).
MODEL4_RECORD = fill(PATHS.beta_record, fit_sample=JOINT_SAMPLE)
MODEL4_SIMULATIONS = {
    s: fill(PATHS.best_simulation, fit_sample=JOINT_SAMPLE, model=4, sample=s)
    for s in SAMPLES
}
MODEL4_PLAUSIBILITY = fill(PATHS.plausibility, fit_sample=JOINT_SAMPLE, model=4)


# --- the default target ------------------------------------------------------------------
# Each rule file adds its final outputs, in stage order (the Snakefile's `rule all`).
DEFAULT_TARGETS = []
