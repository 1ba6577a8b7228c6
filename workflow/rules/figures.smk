# Figures (SPEC §5): the paper's Figure 3 and S5-S11 redrawn from the workflow's own
# outputs, plus a chi² landscape and a deconvolution QC figure; and the report's tables.
# Every figure is written as PNG (figures.dpi) and PDF under results/figures/; figures made
# from the synthetic virtual experiment say so (decided from where the sample's mzML lies).

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


def is_synthetic(sample):
    """True when the sample's MS1 file is the workflow's own virtual experiment."""
    mzml = Path(os.path.abspath(samples.loc[sample, "mzml"]))
    return mzml.is_relative_to(Path(os.path.abspath(VIRTUAL_EXPERIMENT_DIR)))


def sample_info(sample):
    row = samples.loc[sample]
    ag, au = float(row["ag_nM"]), float(row["au_nM"])
    return {
        "sample": sample,
        "ag_nM": ag,
        "au_nM": au,
        "ag_fraction": ag / (ag + au),
        "label": f"{sample} ({ag:g}:{au:g} nmol/L)",
        "synthetic": is_synthetic(sample),
    }


def figure_files(name):
    """PNG (in the report), PDF and the params sidecar of figure ``name``."""
    return [f"{FIGURES_DIR}/{name}.{ext}" for ext in ("png", "pdf", "params.json")]


def paper_figure_targets():
    """Every figure that reproduces one of the paper's (3, S5-S11)."""
    names = ["fig3_best_fit", "fig3_table1", "figS5", "figS6", "figS10", "figS11"]
    names += [f"figS7_S9_{s}" for s in OTHER_SAMPLES]
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
    return {
        "experiment": intensities_of_sample(wildcards),
        "best": f"{fit}/best.json",
        "simulation": f"{fit}/best_simulation/{wildcards.sample}.tsv",
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
    return {
        "chi2": [f"{fit}/model{m}/chi2.parquet" for m in FIT_MODELS],
        "best": [f"{fit}/model{m}/best.json" for m in FIT_MODELS],
    }


def qc_inputs(wildcards):
    return {
        "mzml": mzml_of(wildcards),
        "intensities": intensities_of_sample(wildcards),
        "qc": f"results/deconvolution/{wildcards.sample}/qc.tsv",
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


# --- rules -----------------------------------------------------------------------------


rule figure3_best_fit:
    input:
        experiment=intensities_of_main,
        best=best_fits_of_main,
        simulations=best_simulations_of_main,
    output:
        png=report(
            f"{FIGURES_DIR}/fig3_best_fit.png",
            caption="../report/fig3_best_fit.rst",
            category="Paper figures",
            subcategory="Figure 3",
        ),
        pdf=f"{FIGURES_DIR}/fig3_best_fit.pdf",
        params=f"{FIGURES_DIR}/fig3_best_fit.params.json",
    log:
        "logs/figures/fig3_best_fit.log",
    conda:
        "../../envs/figures.yaml"
    params:
        sample=main_sample_info,
        models=FIT_MODELS,
        cluster=config["cluster"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_figure3.py"


rule figure3_table1:
    input:
        experiment=intensities_of_main,
        simulations=table1_simulations,
    output:
        png=report(
            f"{FIGURES_DIR}/fig3_table1.png",
            caption="../report/fig3_table1.rst",
            category="Paper figures",
            subcategory="Figure 3",
        ),
        pdf=f"{FIGURES_DIR}/fig3_table1.pdf",
        params=f"{FIGURES_DIR}/fig3_table1.params.json",
    log:
        "logs/figures/fig3_table1.log",
    conda:
        "../../envs/figures.yaml"
    params:
        sample=main_sample_info,
        models=TABLE1_MODELS,
        constants=table1_params,
        cluster=config["cluster"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_figure3.py"


rule figure_s5:
    input:
        unpack(s5_inputs),
    output:
        png=report(
            f"{FIGURES_DIR}/figS5.png",
            caption="../report/figS5.rst",
            category="Paper figures",
            subcategory="Figure S5",
        ),
        pdf=f"{FIGURES_DIR}/figS5.pdf",
        params=f"{FIGURES_DIR}/figS5.params.json",
    log:
        "logs/figures/figS5.log",
    conda:
        "../../envs/figures.yaml"
    params:
        sample=main_sample_info,
        model=S5_MODEL,
        cluster=config["cluster"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_s5.py"


rule figure_s6:
    input:
        experiments=intensities_of_all,
    output:
        png=report(
            f"{FIGURES_DIR}/figS6.png",
            caption="../report/figS6.rst",
            category="Paper figures",
            subcategory="Figure S6",
        ),
        pdf=f"{FIGURES_DIR}/figS6.pdf",
        params=f"{FIGURES_DIR}/figS6.params.json",
    log:
        "logs/figures/figS6.log",
    conda:
        "../../envs/figures.yaml"
    params:
        samples=all_sample_info,
        cluster=config["cluster"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_s6.py"


rule figure_s7_s9:
    input:
        unpack(s7_inputs),
    output:
        png=report(
            f"{FIGURES_DIR}/figS7_S9_{{sample}}.png",
            caption="../report/figS7_S9.rst",
            category="Paper figures",
            subcategory="Figures S7-S9",
        ),
        pdf=f"{FIGURES_DIR}/figS7_S9_{{sample}}.pdf",
        params=f"{FIGURES_DIR}/figS7_S9_{{sample}}.params.json",
    log:
        "logs/figures/figS7_S9_{sample}.log",
    conda:
        "../../envs/figures.yaml"
    params:
        sample=this_sample_info,
        model=S7_MODEL,
        fit_sample=MAIN_SAMPLE,
        cluster=config["cluster"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_s7_s9.py"


rule figure_s10:
    input:
        unpack(s10_inputs),
    output:
        png=report(
            f"{FIGURES_DIR}/figS10.png",
            caption="../report/figS10.rst",
            category="Paper figures",
            subcategory="Figure S10",
        ),
        pdf=f"{FIGURES_DIR}/figS10.pdf",
        params=f"{FIGURES_DIR}/figS10.params.json",
    log:
        "logs/figures/figS10.log",
    conda:
        "../../envs/figures.yaml"
    params:
        sample=main_sample_info,
        model=S7_MODEL,
        cluster=config["cluster"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_s10.py"


rule figure_s11:
    output:
        png=report(
            f"{FIGURES_DIR}/figS11.png",
            caption="../report/figS11.rst",
            category="Paper figures",
            subcategory="Figure S11",
        ),
        pdf=f"{FIGURES_DIR}/figS11.pdf",
        params=f"{FIGURES_DIR}/figS11.params.json",
    log:
        "logs/figures/figS11.log",
    conda:
        "../../envs/figures.yaml"
    params:
        plausibility=config["plausibility"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_s11.py"


rule figure_chi2_landscape:
    input:
        unpack(chi2_inputs),
    output:
        png=report(
            f"{FIGURES_DIR}/chi2_landscape_{{fit_sample}}.png",
            caption="../report/chi2_landscape.rst",
            category="Beyond the paper",
            subcategory="chi2 landscape",
        ),
        pdf=f"{FIGURES_DIR}/chi2_landscape_{{fit_sample}}.pdf",
        params=f"{FIGURES_DIR}/chi2_landscape_{{fit_sample}}.params.json",
    log:
        "logs/figures/chi2_landscape_{fit_sample}.log",
    conda:
        "../../envs/figures.yaml"
    params:
        models=FIT_MODELS,
        synthetic=fit_sample_synthetic,
        figures=FIG_CFG,
    script:
        "../scripts/fig_chi2.py"


rule figure_deconvolution_qc:
    input:
        unpack(qc_inputs),
    output:
        png=report(
            f"{FIGURES_DIR}/deconvolution_qc_{{sample}}.png",
            caption="../report/deconvolution_qc.rst",
            category="Beyond the paper",
            subcategory="deconvolution QC",
        ),
        pdf=f"{FIGURES_DIR}/deconvolution_qc_{{sample}}.pdf",
        params=f"{FIGURES_DIR}/deconvolution_qc_{{sample}}.params.json",
    log:
        "logs/figures/deconvolution_qc_{sample}.log",
    conda:
        "../../envs/figures.yaml"
    params:
        sample=this_sample_info,
        cluster=config["cluster"],
        deconvolution=config["deconvolution"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_deconvolution_qc.py"


rule report_tables:
    input:
        best=best_fit_tables,
        plausibility=plausibility_tables,
    output:
        best=report(
            f"{FIGURES_DIR}/tables/best_fit.html",
            caption="../report/table_best_fit.rst",
            category="Tables",
            subcategory="best fits",
        ),
        plausibility=report(
            f"{FIGURES_DIR}/tables/plausibility.html",
            caption="../report/table_plausibility.rst",
            category="Tables",
            subcategory="plausibility",
        ),
    log:
        "logs/figures/report_tables.log",
    conda:
        "../../envs/figures.yaml"
    params:
        samples=FIT_SAMPLES,
        models=FIT_MODELS,
        table1=config["kinetics"]["table1"],
        synthetic=any_synthetic,
    script:
        "../scripts/report_tables.py"


rule paper_figures:
    input:
        paper_figure_targets(),
