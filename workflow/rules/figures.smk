# Figures (docs/science.md §5): the paper's Figure 3 and S5-S11 redrawn from the workflow's own
# outputs, plus a chi² landscape and a deconvolution QC figure; and the report's tables.
# Every figure is written as PNG (figures.dpi) and PDF under results/figures/, with a
# params.json sidecar recording what was drawn (constants, samples, pixel size). Functions
# and targets: figures_functions.smk.


include: "figures_functions.smk"


# --- rules -----------------------------------------------------------------------------


rule figure3_best_fit:
    input:
        experiment=intensities_of_main,
        best=best_fits_of_main,
        simulations=best_simulations_of_main,
        run=run_of_main,
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
        files=main_fit_files,
        cluster=CLUSTER,
        figures=FIG_CFG,
    script:
        "../scripts/fig_figure3.py"


rule figure3_table1:
    input:
        experiment=intensities_of_main,
        simulations=table1_simulations,
        run=run_of_main,
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
        files=table1_files,
        constants=table1_params,
        cluster=CLUSTER,
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
        cluster=CLUSTER,
        figures=FIG_CFG,
    script:
        "../scripts/fig_s5.py"


rule figure_s6:
    input:
        experiments=intensities_of_all,
        runs=runs_of_all,
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
        experiments=intensities_by_sample,
        runs=runs_by_sample,
        cluster=CLUSTER,
        figures=FIG_CFG,
    script:
        "../scripts/fig_s6.py"


rule figure_s7_s9:
    input:
        unpack(s7_inputs),
    output:
        png=report(
            f"{FIGURES_DIR}/{{s7_s9_figure}}.png",
            caption="../report/figS7_S9.rst",
            category="Paper figures",
            subcategory="Figures S7-S9",
        ),
        pdf=f"{FIGURES_DIR}/{{s7_s9_figure}}.pdf",
        params=f"{FIGURES_DIR}/{{s7_s9_figure}}.params.json",
    log:
        "logs/figures/{s7_s9_figure}.log",
    conda:
        "../../envs/figures.yaml"
    params:
        figure=s7_s9_figure_name,
        sample=s7_s9_sample_info,
        model=S7_MODEL,
        fit_sample=MAIN_SAMPLE,
        cluster=CLUSTER,
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
        cluster=CLUSTER,
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


# One job draws the landscape of every fit (params.per_item, common.smk).
rule figure_chi2_landscape:
    input:
        items_inputs(CHI2_FIGURE_ITEMS),
    output:
        png=report(
            expand(
                f"{FIGURES_DIR}/chi2_landscape_{{fit_sample}}.png", fit_sample=FITS
            ),
            caption="../report/chi2_landscape.rst",
            category="Beyond the paper",
            subcategory="chi2 landscape",
        ),
        pdf=expand(f"{FIGURES_DIR}/chi2_landscape_{{fit_sample}}.pdf", fit_sample=FITS),
        params=expand(
            f"{FIGURES_DIR}/chi2_landscape_{{fit_sample}}.params.json", fit_sample=FITS
        ),
    log:
        "logs/figures/chi2_landscape.log",
    conda:
        "../../envs/figures.yaml"
    params:
        per_item=CHI2_FIGURE_ITEMS,
        models=FIT_MODELS,
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
        system=SYSTEM.source,
        cluster=CLUSTER,
        deconvolution=config["deconvolution"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_deconvolution_qc.py"


rule report_tables:
    input:
        best=best_fit_tables,
        plausibility=plausibility_tables,
        dimer_response=dimer_response_tables,
        runs=runs_of_all,
        comparison=expand(
            "results/fit/{fit_sample}/model_comparison.md", fit_sample=FIT_SAMPLES
        ),
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
        files=report_table_files,
        table1=config["kinetics"]["table1"],
    script:
        "../scripts/report_tables.py"


rule paper_figures:
    input:
        paper_figure_targets(),
