"""HTML tables for the report: best fits (with the paper's Table 1; model 4 and ΔG_mix in
words when fitted) and plausibility checks (ΔG_mix beside model 4's)."""

import html
import logging
from pathlib import Path

from intercluster import exchange_bias
from intercluster.io import read_json, read_tsv, write_text
from intercluster.network import RATE_CONSTANTS
from intercluster.records import PROFILE_NAMES, read_best_fit, read_plausibility, read_synthetic
from intercluster.rule_script import run

log = logging.getLogger("intercluster")

STYLE = """<style>
body { font-family: sans-serif; font-size: 13px; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th { background: #eee; } td.l, th.l { text-align: left; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #b2182b; font-weight: bold; }
.note { color: #555; }
</style>"""


def fmt(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def interval(best, name):
    entry = (best.intervals or {}).get(name)
    if entry is None or entry["low"] is None:
        return "–"
    low = ("≤" if entry["low_open"] else "") + fmt(entry["low"], 2)
    high = ("≥" if entry["high_open"] else "") + fmt(entry["high"], 2)
    return f"{low} – {high}"


def weighted_interval(best, name):
    """'identifiable: 1.2e-2 – 3.4e-2' of the weighted χ² fit ('open' for an open end)."""
    label = (best.identifiability or {}).get(name)
    if label is None:
        return "–"
    low, high = (best.intervals_weighted or {}).get(name, (None, None))
    ends = " – ".join("open" if v is None else fmt(v, 3) for v in (low, high))
    profile = ((best.weighted or {}).get("profiles") or {}).get(name) or {}
    reoptimised = "intervals_reoptimised" in (best.weighted or {})
    if profile and not profile["resolved"] and not reoptimised:
        # narrower than a grid step: also the conservative bracket at the grid's resolution
        grid = " – ".join("open" if v is None else fmt(v, 3) for v in profile["interval_grid"])
        ends += f" (below the grid step; grid: {grid})"
    return f"{html.escape(label)}: {ends}"


def consistency_text(best):
    """Where the weighted intervals come from and what of the fit does not agree, in words."""
    weighted = best.weighted or {}
    source = weighted.get("interval_source", "grid profile")
    check = weighted.get("consistency") or {}
    if check.get("consistent", True):
        return html.escape(f"{source}; grid point, refined point and intervals agree")
    return html.escape(f"{source}; NOT consistent: " + "; ".join(check["messages"]))


def weighted_rows(pairs, paths):
    """Rows of the weighted χ² fit: its best point and each name's label and interval."""
    rows = []
    for (sample, model), path in zip(pairs, paths, strict=True):
        best = read_best_fit(path)
        w = (best.weighted or {}).get("best") or {}
        cells = [
            f"<td class='l'>{html.escape(sample)}</td>",
            f"<td>{model}</td>",
            *(f"<td>{fmt(w.get(k), 2)}</td>" for k in RATE_CONSTANTS),
            f"<td>{fmt(w.get('chi2'), 4)}</td>",
            *(f"<td class='l'>{weighted_interval(best, n)}</td>" for n in PROFILE_NAMES),
            f"<td class='l'>{consistency_text(best)}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = (
        "<tr><th class='l'>sample</th><th>model</th><th>k_dim</th><th>k_diss</th><th>k_ex</th>"
        "<th>χ²_w</th>" + "".join(f"<th class='l'>{html.escape(n)}</th>" for n in PROFILE_NAMES)
        + "<th class='l'>intervals from; consistency</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def trajectory_rows(pairs, paths):
    """The trajectory fits (fit.objective: trajectory), empty when none was run."""
    rows = []
    for (sample, model), path in zip(pairs, paths, strict=True):
        t = read_best_fit(path).trajectory
        if not t or not t.get("best"):
            continue
        b = t["best"]
        cells = [f"<td class='l'>{html.escape(sample)}</td><td>{model}</td>",
                 *(f"<td>{fmt(b[k], 2)}</td>" for k in (*RATE_CONSTANTS, "response")),
                 f"<td>{fmt(b['sse'], 4)}</td>"]  # fmt: skip
        for name in PROFILE_NAMES:
            label = t["identifiability"].get(name)
            if label is None:
                cells.append("<td class='l'>–</td>")
                continue
            ends = " – ".join("open" if v is None else fmt(v, 3)
                              for v in t["intervals"].get(name, (None, None)))  # fmt: skip
            cells.append(f"<td class='l'>{html.escape(str(label))}: {ends}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        return ""
    head = ("<tr><th class='l'>sample</th><th>model</th><th>k_dim</th><th>k_diss</th>"
            "<th>k_ex</th><th>dimer response r</th><th>SSE</th>"
            + "".join(f"<th class='l'>{html.escape(n)}</th>" for n in PROFILE_NAMES)
            + "</tr>")  # fmt: skip
    return ("<h4>Trajectory objective (fit.objective: trajectory): least squares of the "
            "normalised intensities, dimer response r fitted; F-rule intervals</h4>"
            f"<table>{head}{''.join(rows)}</table>")  # fmt: skip


def dimer_response_section(files):
    """Each sample's dimer response: the one its simulations used (sheet column or
    fit.tmax.dimer_response) and the one its data give against the best fit (rule
    dimer_response)."""
    rows = []
    for (fit_sample, model), paths in files.items():
        for r in read_tsv(paths["dimer_response"]).itertuples():
            rows.append(
                f"<tr><td class='l'>{html.escape(fit_sample)}</td><td>{model}</td>"
                f"<td class='l'>{html.escape(str(r.sample))}</td>"
                f"<td>{fmt(r.dimer_response_used, 3)}</td>"
                f"<td>{fmt(r.dimer_response_estimated, 3)}</td>"
                f"<td>{fmt(int(r.n_times))} from {fmt(r.late_from_min, 3)} min</td></tr>"
            )
    head = ("<tr><th class='l'>fit</th><th>model</th><th class='l'>sample</th>"
            "<th>dimer response used</th><th>estimated from the data</th>"
            "<th>late times used</th></tr>")  # fmt: skip
    return ("<h4>Dimer response (a dimer ion's signal per molecule / a monomer's): used by the "
            "fit and estimated from the late dimer:monomer ratio, measured / best fit</h4>"
            f"<table>{head}{''.join(rows)}</table>")  # fmt: skip


def comparison_section(samples, paths):
    """Model comparison and goodness of fit per fit, in words (rule model_comparison)."""
    parts = []
    for sample, path in zip(samples, paths, strict=True):
        text = Path(path).read_text(encoding="utf-8")
        lines = [t for t in text.splitlines() if t and not t.startswith("#")]
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        parts.append(f"<p><b>{html.escape(sample)}</b></p><ul>{items}</ul>")
    return (
        "<h4>Model comparison and goodness of fit (weighted χ², AIC; docs/science.md, "
        "\"Uncertainty\")</h4>" + "".join(parts)
    )


def model4_section(paths):
    """Model 4 (fit.models lists 4): ΔG_mix with its interval in words, and models 3 and 4
    side by side (beta.json of rule fit_model4); empty without model 4."""
    if not paths:
        return ""
    record = read_json(paths[0])
    rows = []
    for model in ("model3", "model4"):
        fitted = record[model]
        beta = fmt(record["beta"], 4) if model == "model4" else "1 (fixed)"
        rows.append(
            f"<tr><td>{model.removeprefix('model')}</td>"
            + "".join(f"<td>{fmt(fitted[k], 3)}</td>" for k in ("k_dim", "k_diss", "k_ex"))
            + f"<td>{beta}</td><td>{fmt(fitted['chi2_weighted'], 4)}</td>"
            f"<td>{fmt(fitted['aic'], 4)}</td><td>{fmt(fitted['fits'])}</td></tr>"
        )
    head = ("<tr><th>model</th><th>k_dim</th><th>k_diss</th><th>k_ex</th><th>β</th>"
            "<th>χ²_w</th><th>AIC</th><th>fits</th></tr>")  # fmt: skip
    return (
        "<h4>Model 4: exchange bias β and the free energy of mixing (docs/science.md §2.4; "
        "every sample jointly, rule fit_model4)</h4>"
        f"<p>{html.escape(exchange_bias.delta_g_mix_statement(record))}</p>"
        f"<table>{head}{''.join(rows)}</table>"
    )


def reasons(best):
    """Why grid points failed, e.g. ' (4 × too many steps)'; empty when none did."""
    counts = best.failed_reasons
    text = "; ".join(f"{n} × {html.escape(str(r))}" for r, n in counts.items())
    return f" <span class='note'>({text})</span>" if text else ""


def page(title, body, note=""):
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>{STYLE}"
        f"</head><body><h3>{title}</h3>{body}<p class='note'>{note}</p></body></html>\n"
    )


def check_rows(record):
    """(name, value text, pass) rows of one plausibility record (none when not assessed)."""
    if not record.assessed:
        return
    for name, entry in record.checks.items():
        shown = {k: v for k, v in entry.items() if k != "pass" and not isinstance(v, dict | list)}
        text = ", ".join(f"{html.escape(str(k))} = {fmt(v, 3)}" for k, v in shown.items())
        yield str(name), text, entry["pass"]
    if record.exchange_bias:  # model 4: ΔG_mix beside the kinetic checks, not a check
        yield "ΔG_mix (exchange bias β)", html.escape(record.exchange_bias["statement"]), "info"
    for key in ("diffusion_limit", "dimer_lifetime"):
        entry = getattr(record, key)
        if entry is not None:
            shown = {k: v for k, v in entry.items() if not isinstance(v, dict | list)}
            text = ", ".join(f"{html.escape(str(k))} = {fmt(v, 3)}" for k, v in shown.items())
            yield f"{key} (numbers)", text, "info"


def best_fit_page(smk, files, table1, synthetic):
    """The best fits of every (sample, model) and the paper's Table 1 (``files``: (sample,
    model) -> its paths)."""
    head = (
        "<tr><th class='l'>sample</th><th>model</th><th>k_dim / L nmol⁻¹ s⁻¹</th>"
        "<th>k_diss / s⁻¹</th><th>k_ex / s⁻¹</th><th>k_dim:k_diss</th><th>χ² / min²</th>"
        "<th>observables</th><th>refined k_dim</th><th>refined k_diss</th><th>refined k_ex</th>"
        "<th>refined χ²</th><th>interval k_dim</th><th>interval k_diss</th><th>interval k_ex</th>"
        "<th>failed grid points</th></tr>"
    )
    bests = [paths["best"] for paths in files.values()]
    fit_samples = list(dict.fromkeys(sample for sample, _ in files))
    rows = []
    for (sample, model), paths in files.items():
        best = read_best_fit(paths["best"])
        refined = best.refined or {}
        point = best.best or {}
        ratio = point["k_dim"] / point["k_diss"] if best.ok else None
        cells = [
            f"<td class='l'>{html.escape(sample)}</td>",
            f"<td>{model}</td>",
            *(f"<td>{fmt(point.get(k), 2)}</td>" for k in RATE_CONSTANTS),
            f"<td>{fmt(ratio, 2)}</td>",
            f"<td>{fmt(best.chi2)}</td>",
            f"<td>{fmt(best.n_species)}</td>",
            *(f"<td>{fmt(refined.get(k), 3)}</td>" for k in (*RATE_CONSTANTS, "chi2")),
            *(f"<td>{interval(best, k)}</td>" for k in RATE_CONSTANTS),
            f"<td>{fmt(best.n_failed)} of {fmt(best.n_points)}{reasons(best)}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    paper_rows = []
    for key, constants in table1.items():
        ratio = constants["k_dim"] / constants["k_diss"]
        paper_rows.append(
            f"<tr><td class='l'>paper, Table 1</td><td>{html.escape(key.removeprefix('model'))}"
            f"</td><td>{fmt(constants['k_dim'], 2)}</td><td>{fmt(constants['k_diss'], 2)}</td>"
            f"<td>{fmt(constants['k_ex'], 2)}</td><td>{fmt(ratio, 2)}</td></tr>"
        )
    paper = (
        "<h4>Paper (Neumaier et al. 2021, Table 1; 40:40 nmol/L)</h4><table><tr><th class='l'>"
        "source</th><th>model</th><th>k_dim</th><th>k_diss</th><th>k_ex</th><th>k_dim:k_diss</th>"
        "</tr>" + "".join(paper_rows) + "</table>"
    )
    write_text(
        page(
            f"Best fits{synthetic}",
            f"<table>{head}{''.join(rows)}</table>{paper}<h4>Weighted χ² fit: best grid point, "
            "identifiability and profile-likelihood intervals (docs/science.md, "
            f"\"Uncertainty\")</h4>{weighted_rows(list(files), bests)}"
            + trajectory_rows(list(files), bests)
            + dimer_response_section(files)
            + comparison_section(fit_samples, smk.input.comparison)
            + model4_section(smk.input.model4_record),
            "Best grid point of eq 1; refined = Nelder-Mead from it; intervals: profile χ² ≤ "
            "(1 + fit.interval_delta_chi2_rel) χ²_min, ≤/≥ = open at the grid edge. Weighted: "
            "χ²_w = Σ((t_max,sim − t_max,exp)/σ)², interval where the profile stays below "
            "χ²_w,min + the χ²₁ quantile at fit.uncertainty.confidence; with fit.refine and "
            "fit.uncertainty.reoptimise_profiles the profile is computed by re-optimisation "
            "(χ²_w minimised over the other constants by simulation at every step), otherwise "
            "on the grid; open = the profile stays below it up to the grid edge (practically "
            "non-identifiable); flat = nowhere above it.",
        ),
        smk.output.best,
    )


def plausibility_page(smk, files, synthetic):
    """Every plausibility check of every (sample, model)."""
    rows = []
    plausibility = {key: paths["plausibility"] for key, paths in files.items()}
    for path in smk.input.model4_plausibility:  # model 4's joint fit, when fitted
        record = read_plausibility(path)
        plausibility[(record.fit_sample, record.model)] = path
    for (sample, model), path in plausibility.items():
        record = read_plausibility(path)
        for name, text, passed in check_rows(record):
            verdict = (
                "<td class='pass'>pass</td>"
                if passed is True
                else "<td class='fail'>fail</td>"
                if passed is False
                else f"<td>{fmt(passed)}</td>"
            )
            rows.append(
                f"<tr><td class='l'>{html.escape(sample)}</td><td>{model}</td>"
                f"<td class='l'>{html.escape(name)}</td>{verdict}<td class='l'>{text}</td></tr>"
            )
    head = (
        "<tr><th class='l'>sample</th><th>model</th><th class='l'>check</th><th>result</th>"
        "<th class='l'>numbers</th></tr>"
    )
    write_text(
        page(
            f"Plausibility of the best fits (docs/science.md §4){synthetic}",
            f"<table>{head}{''.join(rows)}</table>",
            "DMF at 298 K; settings from the plausibility section of the config.",
        ),
        smk.output.plausibility,
    )
    return len(rows)


def main(smk):
    # fit sample -> model -> paths (params.files), in sheet and model order
    files = {
        (sample, int(model)): paths
        for sample, by_model in smk.params.files.items()
        for model, paths in by_model.items()
    }
    # the run.json of every sample (records.read_synthetic)
    synthetic = " — SYNTHETIC virtual experiment" if read_synthetic(smk.input.runs) else ""
    best_fit_page(smk, files, smk.params.table1, synthetic)
    n_rows = plausibility_page(smk, files, synthetic)
    log.info("wrote %d best-fit rows and %d plausibility rows", len(files), n_rows)


run(main)
