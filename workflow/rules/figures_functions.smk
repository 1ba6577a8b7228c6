# Settings, targets and the named input/params functions of the figure rules
# (workflow/rules/figures.smk). Figures made from the synthetic virtual experiment say so;
# that is read from the deconvolution's run.json of their samples (records.read_synthetic),
# which every figure rule takes as input `run` (or `runs`). Paths are PATHS (paths.smk).

FIG_CFG = config["figures"]
# The 40:40 sample of Figure 3; falls back to the first sample of a user's own sheet.
MAIN_SAMPLE = (
    FIG_CFG["main_sample"] if FIG_CFG["main_sample"] in SAMPLES else SAMPLES[0]
)
OTHER_SAMPLES = [s for s in SAMPLES if s != MAIN_SAMPLE]
# The paper's choices: S5 shows model 2's isomers, S7-S10 use model 3 (best available).
S5_MODEL = 2 if 2 in FIT_MODELS else max(FIT_MODELS)
S7_MODEL = 3 if 3 in FIT_MODELS else max(FIT_MODELS)
# (model 4 when kinetics.models lists it: model 3's constants and kinetics.beta)
TABLE1_MODELS = [
    m for m in (1, 2, 3) if f"model{m}" in config["kinetics"]["table1"]
] + ([4] if 4 in MODELS else [])
# Figures S7, S8 and S9: the further mixing ratios in sheet order (README, "Figures and report"). A sheet with more
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


def sample_info(sample):
    row = samples.loc[sample]
    concentrations = {column: float(row[column]) for column in CONCENTRATION_COLUMNS}
    ratio = ":".join(f"{c:g}" for c in concentrations.values())
    return {
        "sample": sample,
        "concentrations_nM": concentrations,
        "first_fraction": SYSTEM.first_metal_fraction(concentrations),
        "label": f"{sample} ({ratio} nmol/L)",
    }


def paper_figure_targets():
    """Every figure that reproduces one of the paper's (3, S5-S11)."""
    names = ["fig3_best_fit", "fig3_table1", "figS5", "figS6", "figS10", "figS11"]
    names += s7_s9_figures()
    return [path for n in names for path in figure_files(n, ("png", "pdf"))]


def figure_targets():
    """Paper figures, the beyond-the-paper figures and the report tables."""
    names = [f"chi2_landscape_{s}" for s in FITS]
    names += [f"deconvolution_qc_{s}" for s in SAMPLES]
    extra = [path for n in names for path in figure_files(n, ("png", "pdf"))]
    tables = [fill(PATHS.report_table, table=t) for t in ("best_fit", "plausibility")]
    return paper_figure_targets() + extra + tables


# --- input functions -------------------------------------------------------------------


def run_json(sample):
    """The deconvolution's record of a sample: whether its data are synthetic, and more."""
    return fill(PATHS.run, sample=sample)


def run_of_main(wildcards):
    return run_json(MAIN_SAMPLE)


def runs_of_all(wildcards):
    return [run_json(s) for s in SAMPLES]


def runs_by_sample(wildcards):
    """Sample -> its run.json (params; runs_of_all lists the same paths as the input)."""
    return {s: run_json(s) for s in SAMPLES}


def intensities_of_main(wildcards):
    return fill(PATHS.intensities, sample=MAIN_SAMPLE)


def intensities_by_sample(wildcards):
    """Sample -> its deconvolved intensities, every sample of the sheet (params of the rules
    that read them; intensities_of_all lists the same paths as their input)."""
    return {s: fill(PATHS.intensities, sample=s) for s in SAMPLES}


def intensities_of_all(wildcards):
    return list(intensities_by_sample(wildcards).values())


def main_fit_files(wildcards):
    """Model -> the main sample's best.json and best simulation (params of
    figure3_best_fit; best_fits_of_main and best_simulations_of_main list them)."""
    fit = {"fit_sample": MAIN_SAMPLE, "sample": MAIN_SAMPLE}
    return {
        m: {
            "best": fill(PATHS.best, model=m, **fit),
            "simulation": fill(PATHS.best_simulation, model=m, **fit),
        }
        for m in FIT_MODELS
    }


def best_fits_of_main(wildcards):
    return [files["best"] for files in main_fit_files(wildcards).values()]


def best_simulations_of_main(wildcards):
    return [files["simulation"] for files in main_fit_files(wildcards).values()]


def model4_files(samples):
    """Model 4's record and its simulation of each of ``samples`` when fit.models lists 4
    (figures S6 and 3 draw it), else None (params.model4 of those figures)."""
    if not FIT_MODEL4:
        return None
    return {
        "record": MODEL4_RECORD,
        "simulations": {s: MODEL4_SIMULATIONS[s] for s in samples},
    }


def model4_files_of_main(wildcards):
    return model4_files([MAIN_SAMPLE])


def model4_files_of_all(wildcards):
    return model4_files(SAMPLES)


def _model4_inputs(files):
    """The inputs named by model4_files (none without model 4)."""
    if files is None:
        return {}
    return {
        "model4_record": files["record"],
        "model4_simulations": list(files["simulations"].values()),
    }


def model4_of_main(wildcards):
    return _model4_inputs(model4_files_of_main(wildcards))


def model4_of_all(wildcards):
    return _model4_inputs(model4_files_of_all(wildcards))


def table1_files(wildcards):
    """Model -> its Table 1 simulation (params of figure3_table1)."""
    return {
        m: {"simulation": fill(PATHS.table1_observables, model=m)}
        for m in TABLE1_MODELS
    }


def table1_simulations(wildcards):
    return [files["simulation"] for files in table1_files(wildcards).values()]


def s5_inputs(wildcards):
    main = {"fit_sample": MAIN_SAMPLE, "model": S5_MODEL, "sample": MAIN_SAMPLE}
    return {
        "experiment": intensities_of_main(wildcards),
        "best": fill(PATHS.best, **main),
        "simulation": fill(PATHS.best_simulation, **main),
        "isomers": fill(PATHS.best_isomers, **main),
        "run": run_json(MAIN_SAMPLE),
    }


def s7_inputs(wildcards):
    sample = s7_s9_sample(wildcards)
    main = {"fit_sample": MAIN_SAMPLE, "model": S7_MODEL, "sample": sample}
    return {
        "experiment": fill(PATHS.intensities, sample=sample),
        "best": fill(PATHS.best, **main),
        "simulation": fill(PATHS.best_simulation, **main),
        "run": run_json(sample),
    }


def s10_inputs(wildcards):
    main = {"fit_sample": MAIN_SAMPLE, "model": S7_MODEL, "sample": MAIN_SAMPLE}
    return {
        "best": fill(PATHS.best, **main),
        "isomers": fill(PATHS.best_isomers, **main),
        "cid": fill(PATHS.cid, sample=MAIN_SAMPLE),
        "run": run_json(MAIN_SAMPLE),
    }


def chi2_files(wildcards):
    """Model -> its chi2.parquet, best.json and, with fit.zoom, the zoom's chi2.parquet
    (params of figure_chi2_landscape; chi2_inputs lists the same paths)."""
    files = {}
    for m in FIT_MODELS:
        fit = {"fit_sample": wildcards.fit_sample, "model": m}
        files[m] = {"chi2": fill(PATHS.chi2, **fit), "best": fill(PATHS.best, **fit)}
        if ZOOM_ENABLED:  # the zoom's profiles (fit.zoom)
            files[m]["zoom"] = fill(PATHS.zoom_chi2, **fit)
    return files


def chi2_inputs(wildcards):
    files = chi2_files(wildcards).values()
    kinds = ["chi2", "best"] + (["zoom"] if ZOOM_ENABLED else [])
    inputs = {kind: [f[kind] for f in files] for kind in kinds}
    # the fit's own samples (every sample for the joint fit): synthetic or not
    inputs["runs"] = [run_json(s) for s in samples_of_fit(wildcards.fit_sample)]
    return inputs


def qc_inputs(wildcards):
    return {
        "mzml": mzml_of(wildcards),
        "intensities": fill(PATHS.intensities, sample=wildcards.sample),
        "qc": fill(PATHS.qc, sample=wildcards.sample),
        "run": run_json(wildcards.sample),
    }


def report_table_files(wildcards):
    """Fit sample -> model -> its best.json and plausibility JSON (params of report_tables;
    best_fit_tables and plausibility_tables list the same paths as its inputs)."""
    return {
        s: {
            m: {
                "best": fill(PATHS.best, fit_sample=s, model=m),
                "plausibility": fill(PATHS.plausibility, fit_sample=s, model=m),
                "dimer_response": fill(PATHS.dimer_response, fit_sample=s, model=m),
            }
            for m in FIT_MODELS
        }
        for s in FITS
    }


def best_fit_tables(wildcards):
    files = report_table_files(wildcards).values()
    return [paths["best"] for models in files for paths in models.values()]


def plausibility_tables(wildcards):
    files = report_table_files(wildcards).values()
    return [paths["plausibility"] for models in files for paths in models.values()]


def dimer_response_tables(wildcards):
    files = report_table_files(wildcards).values()
    return [paths["dimer_response"] for models in files for paths in models.values()]


# --- params functions -------------------------------------------------------------------


def main_sample_info(wildcards):
    return sample_info(MAIN_SAMPLE)


def all_sample_info(wildcards):
    return {s: sample_info(s) for s in SAMPLES}


def this_sample_info(wildcards):
    return sample_info(wildcards.sample)


def s7_s9_figure_name(wildcards):
    return wildcards.s7_s9_figure


def s7_s9_sample_info(wildcards):
    return sample_info(s7_s9_sample(wildcards))


# One job draws the landscape of every fit (stage(), common.smk).
CHI2_FIGURE = stage(
    "figure_chi2_landscape",
    each_fit(),
    inputs=chi2_inputs,
    outputs={
        "png": figure("chi2_landscape_{fit_sample}", "png"),
        "pdf": figure("chi2_landscape_{fit_sample}", "pdf"),
        "params": figure("chi2_landscape_{fit_sample}", "params.json"),
    },
    params={"files": chi2_files},
)


def table1_params(wildcards):
    return {
        f"model{m}": settings_table1_constants(config["kinetics"], m)
        for m in TABLE1_MODELS
    }
