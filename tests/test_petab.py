"""PEtab export of the trajectory objective (intercluster.petab_export).

Data: a synthetic intensities table (model 3 + noise, tests/fit_helpers.py) of one sample,
with ten observables excluded as the t_max rule may exclude them. The workflow's trajectory
objective (:func:`intercluster.trajectory_fit.trajectory_grid_fit`, the rule fit_trajectory's
function) is evaluated at one grid point with a tight solver, which also fits the dimer
response there; that point is exported. Then:

* ``petablint`` accepts the problem;
* an independent evaluation reproduces the objective: libroadrunner simulates the exported
  SBML under each condition of the condition table, the observable formulas of the
  observable table are evaluated with sympy on its output, and libpetab's ``calculate_chi2``
  takes the measurement, observable and parameter tables; χ² σ² must equal the workflow's
  SSE within 1e-6 relative;
* COPASI (basico's PEtab import, its own simulator) loads the problem and reproduces the
  same SSE within 1e-6 relative;
* negative control: one measurement changed in the measurement table moves that objective
  away from the workflow's.
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
from workflow_helpers import small_config

from intercluster import fit, trajectory_fit
from intercluster import petab_export as pe
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
    network = ReactionNetwork(3, "S")
    points = fit.grid_points(config["fit"]["grid"])
    centre = points[(points[["i_dim", "i_diss", "i_ex"]] == 1).all(axis=1)].reset_index(drop=True)
    table = trajectory_fit.trajectory_grid_fit(network, centre, experiments, observables, TIGHT)
    best = pe.TrajectoryBest.from_table(table)
    samples = pe.samples_from_tables(experiments, DEFAULT_SYSTEM)
    problem = pe.petab_problem(network, DEFAULT_SYSTEM, samples, best, config["fit"]["grid"])
    folder = tmp_path_factory.mktemp("petab")
    return pe.write_petab(problem, folder), best, config, included


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
    yaml_path, best, config, included = exported
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


def _roadrunner_chi2(yaml_path: Path, measurements: pd.DataFrame | None = None) -> float:
    """χ² of the problem at its nominal parameters: libroadrunner + the tables' formulas."""
    import sympy
    from petab.v1.calculate import calculate_chi2

    problem = petab.Problem.from_yaml(str(yaml_path))
    measured = problem.measurement_df if measurements is None else measurements
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
    return float(calculate_chi2(measured, pd.concat(simulated), problem.observable_df,
                                problem.parameter_df))  # fmt: skip


def test_independent_simulator_reproduces_the_trajectory_objective(exported):
    yaml_path, best, _, _ = exported
    problem = petab.Problem.from_yaml(str(yaml_path))
    chi2 = _roadrunner_chi2(yaml_path)
    sse = pe.sse_from_chi2(chi2, problem.parameter_df)
    print(f"PEtab chi2 {chi2:.10g}, sigma {best.sigma:.6g}: SSE {sse:.12g}; workflow SSE "
          f"{best.sse:.12g}; relative difference {sse / best.sse - 1:.3g}")
    assert abs(sse / best.sse - 1) < TOLERANCE
    # negative control: one measurement changed by 0.01 moves the objective
    changed = problem.measurement_df.copy()
    changed.loc[changed.index[len(changed) // 2], "measurement"] += 0.01
    moved = pe.sse_from_chi2(_roadrunner_chi2(yaml_path, changed), problem.parameter_df)
    assert abs(moved / best.sse - 1) > 100 * TOLERANCE, moved


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
    cmd = [sys.executable, "-m", "snakemake", target, "--snakefile",
           str(Path(__file__).resolve().parents[1] / "Snakefile"), "--directory", str(tmp_path),
           "--cores", "2", "--nolock", "--config", "samples=data/samples.tsv",
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
    sse = pe.sse_from_chi2(_roadrunner_chi2(yaml_path), problem.parameter_df)
    print(f"rule output: PEtab SSE {sse:.12g}, trajectory.parquet SSE {best.sse:.12g}, "
          f"relative {sse / best.sse - 1:.3g}")
    assert abs(sse / best.sse - 1) < TOLERANCE


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
    workflow's SSE within 1e-6 relative; a changed measurement moves it (the control)."""
    basico_petab = pytest.importorskip("basico.petab", reason="copasi-basico (test extra)")
    import basico
    from petab.v1.calculate import calculate_chi2

    yaml_path, best, _, _ = exported
    problem = petab.Problem.from_yaml(str(yaml_path))
    simulator = basico_petab.PetabSimulator(problem, working_dir=str(tmp_path / "copasi"))
    basico.set_task_settings(basico.T.TIME_COURSE, {"method": {
        "Relative Tolerance": TIGHT["rtol"], "Absolute Tolerance": TIGHT["atol"],
        "Max Internal Steps": 10**6}})  # fmt: skip
    simulated = simulator.simulate()
    assert len(simulated) == len(problem.measurement_df)
    chi2 = calculate_chi2(problem.measurement_df, simulated, problem.observable_df,
                          problem.parameter_df)  # fmt: skip
    sse = pe.sse_from_chi2(chi2, problem.parameter_df)
    print(f"COPASI: chi2 {chi2:.10g}, SSE {sse:.12g}; workflow SSE {best.sse:.12g}; "
          f"relative difference {sse / best.sse - 1:.3g}")
    assert abs(sse / best.sse - 1) < TOLERANCE
    changed = problem.measurement_df.copy()
    changed.loc[changed.index[len(changed) // 2], "measurement"] += 0.01
    # the simulation is the same; the data differ
    chi2_changed = calculate_chi2(changed, simulated, problem.observable_df,
                                  problem.parameter_df)  # fmt: skip
    moved = pe.sse_from_chi2(chi2_changed, problem.parameter_df)
    assert abs(moved / best.sse - 1) > 100 * TOLERANCE, moved
