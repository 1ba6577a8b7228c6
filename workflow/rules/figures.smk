# Figures (docs/science.md §5): the paper's Figure 3 and S5-S11 redrawn from the workflow's own
# outputs, plus a chi² landscape and a deconvolution QC figure; and the report's tables.
# Every figure is written as PNG (figures.dpi) and PDF under results/figures/, with a
# params.json sidecar recording what was drawn (constants, samples, pixel size). Functions
# and targets: figures_functions.smk.


include: "figures_functions.smk"


# --- rules -----------------------------------------------------------------------------


rule figure3_best_fit:
    input:
        unpack(model4_of_main),
        experiment=intensities_of_main,
        best=best_fits_of_main,
        simulations=best_simulations_of_main,
        run=run_of_main,
    output:
        png=report(
            figure("fig3_best_fit", "png"),
            caption="../report/fig3_best_fit.rst",
            category="Paper figures",
            subcategory="Figure 3",
        ),
        pdf=figure("fig3_best_fit", "pdf"),
        params=figure("fig3_best_fit", "params.json"),
    log:
        "logs/figures/fig3_best_fit.log",
    conda:
        "../../envs/figures.yaml"
    params:
        sample=main_sample_info,
        files=main_fit_files,
        model4=model4_files_of_main,
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
            figure("fig3_table1", "png"),
            caption="../report/fig3_table1.rst",
            category="Paper figures",
            subcategory="Figure 3",
        ),
        pdf=figure("fig3_table1", "pdf"),
        params=figure("fig3_table1", "params.json"),
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
            figure("figS5", "png"),
            caption="../report/figS5.rst",
            category="Paper figures",
            subcategory="Figure S5",
        ),
        pdf=figure("figS5", "pdf"),
        params=figure("figS5", "params.json"),
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
        unpack(model4_of_all),
        experiments=intensities_of_all,
        runs=runs_of_all,
    output:
        png=report(
            figure("figS6", "png"),
            caption="../report/figS6.rst",
            category="Paper figures",
            subcategory="Figure S6",
        ),
        pdf=figure("figS6", "pdf"),
        params=figure("figS6", "params.json"),
    log:
        "logs/figures/figS6.log",
    conda:
        "../../envs/figures.yaml"
    params:
        samples=all_sample_info,
        experiments=intensities_by_sample,
        runs=runs_by_sample,
        model4=model4_files_of_all,
        cluster=CLUSTER,
        figures=FIG_CFG,
    script:
        "../scripts/fig_s6.py"


rule figure_s7_s9:
    input:
        unpack(s7_inputs),
    output:
        png=report(
            figure("{s7_s9_figure}", "png"),
            caption="../report/figS7_S9.rst",
            category="Paper figures",
            subcategory="Figures S7-S9",
        ),
        pdf=figure("{s7_s9_figure}", "pdf"),
        params=figure("{s7_s9_figure}", "params.json"),
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
            figure("figS10", "png"),
            caption="../report/figS10.rst",
            category="Paper figures",
            subcategory="Figure S10",
        ),
        pdf=figure("figS10", "pdf"),
        params=figure("figS10", "params.json"),
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
            figure("figS11", "png"),
            caption="../report/figS11.rst",
            category="Paper figures",
            subcategory="Figure S11",
        ),
        pdf=figure("figS11", "pdf"),
        params=figure("figS11", "params.json"),
    log:
        "logs/figures/figS11.log",
    conda:
        "../../envs/figures.yaml"
    params:
        plausibility=config["plausibility"],
        figures=FIG_CFG,
    script:
        "../scripts/fig_s11.py"


# One job draws the landscape of every fit (CHI2_FIGURE, figures_functions.smk).
rule figure_chi2_landscape:
    input:
        CHI2_FIGURE.input,
    output:
        png=report(
            CHI2_FIGURE.output("png"),
            caption="../report/chi2_landscape.rst",
            category="Beyond the paper",
            subcategory="chi2 landscape",
        ),
        pdf=CHI2_FIGURE.output("pdf"),
        params=CHI2_FIGURE.output("params"),
    log:
        "logs/figures/chi2_landscape.log",
    conda:
        "../../envs/figures.yaml"
    params:
        per_item=CHI2_FIGURE.per_item,
        models=FIT_MODELS,
        figures=FIG_CFG,
    script:
        "../scripts/fig_chi2.py"


rule figure_deconvolution_qc:
    input:
        unpack(qc_inputs),
    output:
        png=report(
            figure("deconvolution_qc_{sample}", "png"),
            caption="../report/deconvolution_qc.rst",
            category="Beyond the paper",
            subcategory="deconvolution QC",
        ),
        pdf=figure("deconvolution_qc_{sample}", "pdf"),
        params=figure("deconvolution_qc_{sample}", "params.json"),
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
        comparison=expand(PATHS.model_comparison_md, fit_sample=FITS),
        # model 4 (fit.models lists 4): its record and plausibility; else empty
        model4_record=[MODEL4_RECORD] if FIT_MODEL4 else [],
        model4_plausibility=[MODEL4_PLAUSIBILITY] if FIT_MODEL4 else [],
    output:
        best=report(
            fill(PATHS.report_table, table="best_fit"),
            caption="../report/table_best_fit.rst",
            category="Tables",
            subcategory="best fits",
        ),
        plausibility=report(
            fill(PATHS.report_table, table="plausibility"),
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


DEFAULT_TARGETS += figure_targets()
