"""PEtab export of the trajectory objective (intercluster.petab_export).

Data: a synthetic intensities table (model 3 + noise, tests/fit_helpers.py) of one sample,
with ten observables excluded as the t_max rule may exclude them. The workflow's trajectory
objective (:func:`intercluster.trajectory_fit.trajectory_grid_fit`, the rule fit_trajectory's
function) is evaluated at one grid point with a tight solver, which also fits the dimer
response there; that point is exported. Then:

* ``petablint`` accepts the problem;
* the noise model is the deconvolution's: every measurement's σ (``noiseParameters``) is
  the table's ``intensity_sd`` over its spectrum's total (here the synthetic noise's known
  sd), scaled by ``sigma_scale`` (nominal 1);
* an independent evaluation reproduces the objective: libroadrunner simulates the exported
  SBML under each condition of the condition table, the observable formulas of the
  observable table are evaluated with sympy on its output, and libpetab takes the
  measurement, observable and parameter tables: the sum of squares of its unnormalised
  residuals must equal the workflow's SSE (``trajectory.parquet``'s objective), and its χ²
  the workflow's residuals (simulated by :mod:`intercluster.simulate` at the exported point,
  dimer response and normalisation as the trajectory objective applies them) weighted by
  1/σ², both within 1e-6 relative;
* COPASI (basico's PEtab import, its own simulator) loads the problem and reproduces the
  same two numbers within 1e-6 relative;
* negative control: one measurement changed in the measurement table moves both away from
  the workflow's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fit_helpers import synthetic_intensities
from workflow_helpers import NUCLEARITY, small_config

from intercluster import fit, trajectory_fit
from intercluster import petab_export as pe
from intercluster.io import read_tsv
from intercluster.network import ReactionNetwork
from intercluster.records import SampleConditions
from intercluster.system import DEFAULT_SYSTEM

petab = pytest.importorskip("petab.v1", reason="the PEtab library (the test extra has it)")
roadrunner = pytest.importorskip("roadrunner", reason="libroadrunner (the test extra has it)")

SAMPLE = "ag40_au40"
TIGHT = {"rtol": 1e-10, "atol": 1e-14, "max_steps": 10**7}
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    config = small_config()
    times = np.arange(0.0, 60.0 + 1e-9, 2.0)
    intensities = synthetic_intensities(times_min=times)
    observables = DEFAULT_SYSTEM.observables()
    included = np.ones(len(observables), bool)
    included[-10:] = False  # some excluded, as the t_max rule does
    tmax = pd.DataFrame({"species": observables["species"], "included": included})
    conditions = SampleConditions.from_dict({"ag_nM": 40, "au_nM": 40, "dead_time_s": 20})
    experiments = {SAMPLE: (conditions, intensities, tmax)}
    network = ReactionNetwork(3, "S", nuclearity=NUCLEARITY)
    points = fit.grid_points(config["fit"]["grid"])
    centre = points[(points[["i_dim", "i_diss", "i_ex"]] == 1).all(axis=1)].reset_index(drop=True)
    table = trajectory_fit.trajectory_grid_fit(network, centre, experiments, observables, TIGHT)
    best = pe.TrajectoryBest.from_table(table)
    samples = pe.samples_from_tables(experiments, DEFAULT_SYSTEM)
    problem = pe.petab_problem(network, DEFAULT_SYSTEM, samples, best, config["fit"]["grid"])
    folder = tmp_path_factory.mktemp("petab")
    return pe.write_petab(problem, folder), best, config, included, experiments, network


def _expected_sigma(intensities: pd.DataFrame, network, dead_time_s: float) -> pd.DataFrame:
    """σ of each normalised intensity as the deconvolution gives it: intensity_sd over the
    spectrum's total; keyed by PEtab's observableId and time (s after mixing)."""
    names = dict(zip(DEFAULT_SYSTEM.observables()["species"], pe.observable_ids(network),
                     strict=True))  # fmt: skip
    total = intensities.groupby("time_min")["intensity"].transform("sum")
    return pd.DataFrame({
        "observableId": intensities["species"].map(names),
        "time": intensities["time_min"] * 60.0 + dead_time_s,
        "expected_sigma": intensities["intensity_sd"] / total,
    })  # fmt: skip


def _workflow_residuals(best: pe.TrajectoryBest, network, experiments) -> pd.DataFrame:
    """The trajectory objective's residuals at ``best``, computed as the workflow does
    (intercluster.simulate, the dimer response, every observable in the total), with σ."""
    from intercluster.observables import experiment_matrix, ion_signal, normalise_rows
    from intercluster.settings import SolverOptions
    from intercluster.simulate import simulate

    species = DEFAULT_SYSTEM.observables()["species"].tolist()
    ids = pe.observable_ids(network)
    out = []
    for sample, (conditions, intensities, tmax) in sorted(experiments.items()):
        times, y = experiment_matrix(intensities, species)
        sim = simulate(network, best.constants, conditions, np.asarray(times) * 60.0,
                       SolverOptions(**TIGHT), return_states=False)  # fmt: skip
        assert sim.ok, sim.message
        model = normalise_rows(ion_signal(sim.observables, network.n_monomers, best.response))
        included = tmax.set_index("species").loc[species, "included"].to_numpy(bool)
        t_s = np.asarray(times, float) * 60.0 + conditions.dead_time_s
        for k in np.flatnonzero(included):
            out.append(pd.DataFrame({"simulationConditionId": pe.condition_id(sample),
                                     "observableId": ids[k], "time": t_s,
                                     "residual": normalise_rows(y)[:, k] - model[:, k]}))
    residuals = pd.concat(out, ignore_index=True)
    sigma = pd.concat([_expected_sigma(i, network, c.dead_time_s).assign(
        simulationConditionId=pe.condition_id(s)) for s, (c, i, _) in experiments.items()])
    return residuals.merge(sigma, on=["simulationConditionId", "observableId", "time"],
                           validate="one_to_one")  # fmt: skip


def _objectives(measurements, simulated, problem) -> tuple[float, float]:
    """(SSE of libpetab's unnormalised residuals, libpetab's χ²)."""
    from petab.v1.calculate import calculate_chi2, calculate_residuals

    raw = calculate_residuals(measurements, simulated, problem.observable_df,
                              problem.parameter_df, normalize=False)[0]  # fmt: skip
    chi2 = calculate_chi2(measurements, simulated, problem.observable_df, problem.parameter_df)
    return pe.sse_from_residuals(raw), float(chi2)


def _compare(label: str, sse: float, chi2: float, best, workflow: pd.DataFrame) -> None:
    weighted = float(np.sum(np.square(workflow["residual"] / workflow["expected_sigma"])))
    print(f"{label}: SSE {sse:.12g} vs workflow {best.sse:.12g} (relative "
          f"{sse / best.sse - 1:.3g}); chi2 {chi2:.12g} vs the workflow's residuals over the "
          f"deconvolution's sd {weighted:.12g} (relative {chi2 / weighted - 1:.3g})")
    assert abs(sse / best.sse - 1) < TOLERANCE
    assert abs(chi2 / weighted - 1) < TOLERANCE


def _petablint() -> str:
    found = shutil.which("petablint") or str(Path(sys.executable).parent / "petablint")
    return found


def test_petablint_accepts_it(exported):
    yaml_path = exported[0]
    proc = subprocess.run([_petablint(), "-v", str(yaml_path)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PEtab format check completed successfully" in proc.stdout + proc.stderr


def test_tables_hold_the_fit(exported):
    yaml_path, best, config, included, experiments, network = exported
    problem = petab.Problem.from_yaml(str(yaml_path))
    assert len(problem.observable_df) == 77
    assert problem.observable_df.loc["obs_M_12", "observableName"] == "[Ag12Au13]-"
    params = problem.parameter_df
    for name in ("k_dim", "k_diss", "k_ex"):
        axis = config["fit"]["grid"][name]
        assert params.loc[name, "parameterScale"] == "log10"
        assert (params.loc[name, "lowerBound"], params.loc[name, "upperBound"]) == (
            axis["min"], axis["max"])
        assert params.loc[name, "nominalValue"] == getattr(best.constants, name)
    assert params.loc["r_dim", "nominalValue"] == best.response
    cond = problem.condition_df.loc[pe.condition_id(SAMPLE)]
    assert cond["dead_time_s"] == 20 and cond["M_25"] == 40 and cond["M_0"] == 40
    meas = problem.measurement_df
    # only included observables, times after mixing (spectrum time + the dead time)
    assert meas["observableId"].nunique() == int(included.sum())
    assert meas["time"].min() == 20.0 and meas["time"].max() == 3620.0
    assert len(meas) == best.n_residuals
    # the noise: the deconvolution's sd of each normalised intensity, times sigma_scale
    assert (problem.observable_df["noiseFormula"]
            == "noiseParameter1_" + problem.observable_df.index + " * sigma_scale").all()
    assert params.loc["sigma_scale", "nominalValue"] == 1.0
    assert params.loc["sigma_scale", "estimate"] == 1
    conditions, intensities, _ = experiments[SAMPLE]
    joined = meas.merge(_expected_sigma(intensities, network, conditions.dead_time_s),
                        on=["observableId", "time"], validate="one_to_one")  # fmt: skip
    assert len(joined) == len(meas)
    np.testing.assert_allclose(joined["noiseParameters"].astype(float),
                               joined["expected_sigma"], rtol=1e-12)  # fmt: skip
    # a real spread, not one σ: the synthetic noise is 2 % of the signal plus a floor
    assert joined["expected_sigma"].max() > 5 * joined["expected_sigma"].min()


def _roadrunner_simulation(yaml_path: Path) -> pd.DataFrame:
    """PEtab's simulation table of the problem at its nominal parameters: libroadrunner on
    the SBML, the observable table's formulas with sympy."""
    import sympy

    problem = petab.Problem.from_yaml(str(yaml_path))
    measured = problem.measurement_df
    rr = roadrunner.RoadRunner((yaml_path.parent / pe.FILES["sbml"]).read_text())
    rr.integrator.relative_tolerance = TIGHT["rtol"]
    rr.integrator.absolute_tolerance = TIGHT["atol"]
    rr.integrator.maximum_num_steps = 10**6
    nominal = problem.parameter_df["nominalValue"]
    formulas = {o: sympy.sympify(f) for o, f in problem.observable_df["observableFormula"].items()}
    symbols = sorted({str(s) for f in formulas.values() for s in f.free_symbols})
    species = set(rr.model.getFloatingSpeciesIds())
    in_model = set(rr.model.getGlobalParameterIds())
    simulated = []
    for condition, rows in measured.groupby("simulationConditionId"):
        rr.reset()
        # the condition's values at t = 0 (setting init() would recompile the model)
        for column, value in problem.condition_df.loc[condition].items():
            if column != "conditionName":
                rr.setValue(f"[{column}]" if column in species else column, float(value))
        for pid, value in nominal.items():
            if pid in in_model:
                rr.setValue(pid, float(value))
        times = np.unique(rows["time"].to_numpy(float))
        selections = ["time"] + [f"[{s}]" if s in species else s for s in symbols
                                 if s in species or s in in_model]  # fmt: skip
        out = np.asarray(rr.simulate(times=[0.0, *times], selections=selections))[1:]
        values = {s: out[:, k + 1] for k, s in enumerate(
            s for s in symbols if s in species or s in in_model)}  # fmt: skip
        args = [values.get(s, float(nominal.get(s, np.nan))) for s in symbols]
        at = {t: k for k, t in enumerate(times)}
        sim = rows.rename(columns={"measurement": "simulation"}).copy()
        for observable, index in rows.groupby("observableId").groups.items():
            series = sympy.lambdify(symbols, formulas[observable], "numpy")(*args)
            sim.loc[index, "simulation"] = series[[at[t] for t in rows.loc[index, "time"]]]
        simulated.append(sim)
    return pd.concat(simulated)


def _changed(measurements: pd.DataFrame) -> pd.DataFrame:
    """The negative control's data: one measurement changed by 0.01."""
    changed = measurements.copy()
    changed.loc[changed.index[len(changed) // 2], "measurement"] += 0.01
    return changed


def test_independent_simulator_reproduces_the_trajectory_objective(exported):
    yaml_path, best, _, _, experiments, network = exported
    problem = petab.Problem.from_yaml(str(yaml_path))
    simulated = _roadrunner_simulation(yaml_path)
    workflow = _workflow_residuals(best, network, experiments)
    assert abs(float(np.sum(workflow["residual"] ** 2)) / best.sse - 1) < TOLERANCE
    sse, chi2 = _objectives(problem.measurement_df, simulated, problem)
    _compare("libroadrunner", sse, chi2, best, workflow)
    # negative control: the same simulation against data with one measurement changed
    moved_sse, moved_chi2 = _objectives(_changed(problem.measurement_df), simulated, problem)
    assert abs(moved_sse / best.sse - 1) > 100 * TOLERANCE, moved_sse
    assert abs(moved_chi2 / chi2 - 1) > 100 * TOLERANCE, moved_chi2


@pytest.mark.slow
def test_workflow_rule_writes_a_problem_that_reproduces_its_objective(tmp_path):
    """Rule petab_export on the small config (deconvolution bypassed, fit_helpers), with the
    kinetics solver tightened so that trajectory.parquet's SSE is exact to 1e-6: petablint
    passes on results/petab/ and the independent evaluation reproduces that SSE."""
    import yaml
    from fit_helpers import bypass_deconvolution
    from workflow_helpers import SMALL_CONFIG_FILES, SnakemakeRunner

    bypass_deconvolution(tmp_path, SAMPLE)
    tight = tmp_path / "tight.yaml"
    tight.write_text(yaml.safe_dump({"kinetics": {"rtol": TIGHT["rtol"], "atol": TIGHT["atol"],
                                                  "max_steps": TIGHT["max_steps"]}}))  # fmt: skip
    target = f"results/petab/{SAMPLE}/model3/problem.yaml"
    snakefile = Path(__file__).resolve().parents[1] / "workflow" / "Snakefile"
    cmd = [sys.executable, "-m", "snakemake", target, "--snakefile", str(snakefile),
           "--directory", str(tmp_path), "--workflow-profile", "none", "--cores", "2", "--nolock",
           "--config", "samples=data/samples.tsv",
           "--configfile", *map(str, SMALL_CONFIG_FILES), str(tight)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                          env=SnakemakeRunner().env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    yaml_path = tmp_path / target
    lint = subprocess.run([_petablint(), str(yaml_path)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    table = fit.read_parquet(tmp_path / f"results/fit/{SAMPLE}/model3/trajectory.parquet")
    best = pe.TrajectoryBest.from_table(table)
    problem = petab.Problem.from_yaml(str(yaml_path))
    sse, _ = _objectives(problem.measurement_df, _roadrunner_simulation(yaml_path), problem)
    print(f"rule output: PEtab SSE {sse:.12g}, trajectory.parquet SSE {best.sse:.12g}, "
          f"relative {sse / best.sse - 1:.3g}")
    assert abs(sse / best.sse - 1) < TOLERANCE
    # σ from the intensities table the rule read (its intensity_sd over the total)
    intensities = read_tsv(tmp_path / f"results/deconvolution/{SAMPLE}/intensities.tsv")
    joined = problem.measurement_df.merge(
        _expected_sigma(intensities, ReactionNetwork(3, "S", nuclearity=NUCLEARITY), 20.0),
        on=["observableId", "time"])
    assert len(joined) == len(problem.measurement_df)
    np.testing.assert_allclose(joined["noiseParameters"].astype(float),
                               joined["expected_sigma"], rtol=1e-12)  # fmt: skip


@pytest.fixture
def process_locale():
    """COPASI sets the process's locale to "C" when it loads (so that its number parsing is
    plain), which makes Python's default text encoding ASCII for every later test of the
    session: the locale is put back when the test ends."""
    import locale

    saved = locale.setlocale(locale.LC_ALL)
    yield
    locale.setlocale(locale.LC_ALL, saved)


def test_copasi_loads_it_and_reproduces_the_trajectory_objective(exported, tmp_path,
                                                                 process_locale):  # fmt: skip
    """COPASI (basico's PEtab import, its own simulator) on the exported problem: the
    workflow's SSE and its residuals weighted by the deconvolution's σ within 1e-6
    relative; a changed measurement moves both (the control)."""
    basico_petab = pytest.importorskip("basico.petab", reason="copasi-basico (test extra)")
    import basico

    yaml_path, best, _, _, experiments, network = exported
    problem = petab.Problem.from_yaml(str(yaml_path))
    simulator = basico_petab.PetabSimulator(problem, working_dir=str(tmp_path / "copasi"))
    basico.set_task_settings(basico.T.TIME_COURSE, {"method": {
        "Relative Tolerance": TIGHT["rtol"], "Absolute Tolerance": TIGHT["atol"],
        "Max Internal Steps": 10**6}})  # fmt: skip
    simulated = simulator.simulate()
    assert len(simulated) == len(problem.measurement_df)
    sse, chi2 = _objectives(problem.measurement_df, simulated, problem)
    _compare("COPASI", sse, chi2, best, _workflow_residuals(best, network, experiments))
    # the simulation is the same; the data differ
    moved_sse, moved_chi2 = _objectives(_changed(problem.measurement_df), simulated, problem)
    assert abs(moved_sse / best.sse - 1) > 100 * TOLERANCE, moved_sse
    assert abs(moved_chi2 / chi2 - 1) > 100 * TOLERANCE, moved_chi2
