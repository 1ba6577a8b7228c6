# Settings, targets and the named input/params functions of the figure rules
# (workflow/rules/figures.smk). Figures made from the synthetic virtual experiment say so;
# that is decided here from where the sample's mzML lies (is_synthetic).

FIGURES_DIR = "results/figures"
FIG_CFG = config["figures"]
# The 40:40 sample of Figure 3; falls back to the first sample of a user's own sheet.
MAIN_SAMPLE = (
    FIG_CFG["main_sample"] if FIG_CFG["main_sample"] in SAMPLES else SAMPLES[0]
)
OTHER_SAMPLES = [s for s in SAMPLES if s != MAIN_SAMPLE]
# The paper's choices: S5 shows model 2's isomers, S7-S10 use model 3 (best available).
S5_MODEL = 2 if 2 in FIT_MODELS else max(FIT_MODELS)
S7_MODEL = 3 if 3 in FIT_MODELS else max(FIT_MODELS)
TABLE1_MODELS = [m for m in (1, 2, 3) if f"model{m}" in config["kinetics"]["table1"]]
FIT_SAMPLES = SAMPLES + [JOINT_SAMPLE]
# Figures S7, S8 and S9: the further mixing ratios in sheet order (README). A sheet with more
# than three further samples gets figS7_S9_{sample} for the rest; that name also works for
# any sample of the sheet on request.
S7_S9_NAMES = {f"figS{7 + i}": s for i, s in enumerate(OTHER_SAMPLES[:3])}
S7_S9_NAMES.update({f"figS7_S9_{s}": s for s in SAMPLES})


wildcard_constraints:
    s7_s9_figure="|".join(re.escape(n) for n in S7_S9_NAMES),


def s7_s9_sample(wildcards):
    return S7_S9_NAMES[wildcards.s7_s9_figure]


def s7_s9_figures():
    """The names of the S7-S9 figures the workflow makes by default."""
    numbered = [f"figS{7 + i}" for i in range(min(3, len(OTHER_SAMPLES)))]
    return numbered + [f"figS7_S9_{s}" for s in OTHER_SAMPLES[3:]]


def is_synthetic(sample):
    """True when the sample's MS1 file is the workflow's own virtual experiment."""
    mzml = Path(os.path.abspath(samples.loc[sample, "mzml"]))
    return mzml.is_relative_to(Path(os.path.abspath(VIRTUAL_EXPERIMENT_DIR)))


def sample_info(sample):
    row = samples.loc[sample]
    concentrations = {column: float(row[column]) for column in CONCENTRATION_COLUMNS}
    ratio = ":".join(f"{c:g}" for c in concentrations.values())
    return {
        "sample": sample,
        "concentrations_nM": concentrations,
        "first_fraction": SYSTEM.first_metal_fraction(concentrations),
        "label": f"{sample} ({ratio} nmol/L)",
        "synthetic": is_synthetic(sample),
    }


def figure_files(name):
    """PNG (in the report), PDF and the params sidecar of figure ``name``."""
    return [f"{FIGURES_DIR}/{name}.{ext}" for ext in ("png", "pdf", "params.json")]


def paper_figure_targets():
    """Every figure that reproduces one of the paper's (3, S5-S11)."""
    names = ["fig3_best_fit", "fig3_table1", "figS5", "figS6", "figS10", "figS11"]
    names += s7_s9_figures()
    return [f"{FIGURES_DIR}/{n}.{ext}" for n in names for ext in ("png", "pdf")]


def figure_targets():
    """Paper figures, the beyond-the-paper figures and the report tables."""
    names = [f"chi2_landscape_{s}" for s in FIT_SAMPLES]
    names += [f"deconvolution_qc_{s}" for s in SAMPLES]
    extra = [f"{FIGURES_DIR}/{n}.{ext}" for n in names for ext in ("png", "pdf")]
    tables = [
        f"{FIGURES_DIR}/tables/best_fit.html",
        f"{FIGURES_DIR}/tables/plausibility.html",
    ]
    return paper_figure_targets() + extra + tables


# --- input functions -------------------------------------------------------------------


def intensities_of_main(wildcards):
    return f"results/deconvolution/{MAIN_SAMPLE}/intensities.tsv"


def intensities_of_all(wildcards):
    return [f"results/deconvolution/{s}/intensities.tsv" for s in SAMPLES]


def intensities_of_sample(wildcards):
    return f"results/deconvolution/{wildcards.sample}/intensities.tsv"


def best_fits_of_main(wildcards):
    return [f"results/fit/{MAIN_SAMPLE}/model{m}/best.json" for m in FIT_MODELS]


def best_simulations_of_main(wildcards):
    return [
        f"results/fit/{MAIN_SAMPLE}/model{m}/best_simulation/{MAIN_SAMPLE}.tsv"
        for m in FIT_MODELS
    ]


def table1_simulations(wildcards):
    return [
        f"results/simulations/table1/model{m}/observables.tsv" for m in TABLE1_MODELS
    ]


def s5_inputs(wildcards):
    fit = f"results/fit/{MAIN_SAMPLE}/model{S5_MODEL}"
    return {
        "experiment": intensities_of_main(wildcards),
        "best": f"{fit}/best.json",
        "simulation": f"{fit}/best_simulation/{MAIN_SAMPLE}.tsv",
        "isomers": f"{fit}/best_simulation/{MAIN_SAMPLE}_isomers.parquet",
    }


def s7_inputs(wildcards):
    fit = f"results/fit/{MAIN_SAMPLE}/model{S7_MODEL}"
    sample = s7_s9_sample(wildcards)
    return {
        "experiment": f"results/deconvolution/{sample}/intensities.tsv",
        "best": f"{fit}/best.json",
        "simulation": f"{fit}/best_simulation/{sample}.tsv",
    }


def s10_inputs(wildcards):
    fit = f"results/fit/{MAIN_SAMPLE}/model{S7_MODEL}"
    return {
        "best": f"{fit}/best.json",
        "isomers": f"{fit}/best_simulation/{MAIN_SAMPLE}_isomers.parquet",
        "cid": f"results/deconvolution/{MAIN_SAMPLE}/cid.tsv",
    }


def chi2_inputs(wildcards):
    fit = f"results/fit/{wildcards.fit_sample}"
    inputs = {
        "chi2": [f"{fit}/model{m}/chi2.parquet" for m in FIT_MODELS],
        "best": [f"{fit}/model{m}/best.json" for m in FIT_MODELS],
    }
    if ZOOM_ENABLED:  # the zoom's profiles (fit.zoom)
        inputs["zoom"] = [f"{fit}/model{m}/zoom/chi2.parquet" for m in FIT_MODELS]
    return inputs


def qc_inputs(wildcards):
    return {
        "mzml": mzml_of(wildcards),
        "intensities": intensities_of_sample(wildcards),
        "qc": f"results/deconvolution/{wildcards.sample}/qc.tsv",
        "run": f"results/deconvolution/{wildcards.sample}/run.json",
    }


def best_fit_tables(wildcards):
    return [
        f"results/fit/{s}/model{m}/best.json" for s in FIT_SAMPLES for m in FIT_MODELS
    ]


def plausibility_tables(wildcards):
    return [
        f"results/plausibility/{s}/model{m}.json"
        for s in FIT_SAMPLES
        for m in FIT_MODELS
    ]


# --- params functions -------------------------------------------------------------------


def main_sample_info(wildcards):
    return sample_info(MAIN_SAMPLE)


def all_sample_info(wildcards):
    return [sample_info(s) for s in SAMPLES]


def this_sample_info(wildcards):
    return sample_info(wildcards.sample)


def s7_s9_figure_name(wildcards):
    return wildcards.s7_s9_figure


def s7_s9_sample_info(wildcards):
    return sample_info(s7_s9_sample(wildcards))


def fit_sample_synthetic(wildcards):
    if wildcards.fit_sample in SAMPLES:
        return is_synthetic(wildcards.fit_sample)
    return any_synthetic(wildcards)


def any_synthetic(wildcards):
    return any(is_synthetic(s) for s in SAMPLES)


def table1_params(wildcards):
    return {
        f"model{m}": config["kinetics"]["table1"][f"model{m}"] for m in TABLE1_MODELS
    }
