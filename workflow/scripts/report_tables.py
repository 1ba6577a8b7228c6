"""HTML tables for the report: best fits (with the paper's Table 1) and plausibility checks."""

from intercluster.io import configure_logging

log = configure_logging(snakemake.log[0])  # noqa: F821

import html  # noqa: E402
from pathlib import Path  # noqa: E402

from intercluster.io import read_json  # noqa: E402

smk = snakemake  # noqa: F821
samples = list(smk.params.samples)
models = [int(m) for m in smk.params.models]
table1 = smk.params.table1
pairs = [(s, m) for s in samples for m in models]

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
    entry = (best.get("intervals") or {}).get(name) or {}
    if entry.get("low") is None:
        return "–"
    low = ("≤" if entry.get("low_open") else "") + fmt(entry["low"], 2)
    high = ("≥" if entry.get("high_open") else "") + fmt(entry["high"], 2)
    return f"{low} – {high}"


def reasons(best):
    """Why grid points failed, e.g. ' (4 × too many steps)'; empty when none did."""
    counts = best.get("failed_reasons") or {}
    text = "; ".join(f"{n} × {html.escape(str(r))}" for r, n in counts.items())
    return f" <span class='note'>({text})</span>" if text else ""


def page(title, body, note=""):
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>{STYLE}"
        f"</head><body><h3>{title}</h3>{body}<p class='note'>{note}</p></body></html>\n"
    )


# --- best fits -----------------------------------------------------------------------------
head = (
    "<tr><th class='l'>sample</th><th>model</th><th>k_dim / L nmol⁻¹ s⁻¹</th>"
    "<th>k_diss / s⁻¹</th><th>k_ex / s⁻¹</th><th>k_dim:k_diss</th><th>χ² / min²</th>"
    "<th>observables</th><th>refined k_dim</th><th>refined k_diss</th><th>refined k_ex</th>"
    "<th>refined χ²</th><th>interval k_dim</th><th>interval k_diss</th><th>interval k_ex</th>"
    "<th>failed grid points</th></tr>"
)
rows = []
for (sample, model), path in zip(pairs, smk.input.best, strict=True):
    best = read_json(path)
    refined = best.get("refined") or {}
    ratio = best["k_dim"] / best["k_diss"] if best.get("k_dim") and best.get("k_diss") else None
    cells = [
        f"<td class='l'>{html.escape(sample)}</td>",
        f"<td>{model}</td>",
        *(f"<td>{fmt(best.get(k), 2)}</td>" for k in ("k_dim", "k_diss", "k_ex")),
        f"<td>{fmt(ratio, 2)}</td>",
        f"<td>{fmt(best.get('chi2'))}</td>",
        f"<td>{fmt(best.get('n_species'))}</td>",
        *(f"<td>{fmt(refined.get(k), 3)}</td>" for k in ("k_dim", "k_diss", "k_ex", "chi2")),
        *(f"<td>{interval(best, k)}</td>" for k in ("k_dim", "k_diss", "k_ex")),
        f"<td>{fmt(best.get('n_failed'))} of {fmt(best.get('n_points'))}{reasons(best)}</td>",
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
synthetic = " — SYNTHETIC virtual experiment" if smk.params.synthetic else ""
Path(smk.output.best).parent.mkdir(parents=True, exist_ok=True)
Path(smk.output.best).write_text(
    page(
        f"Best fits{synthetic}",
        f"<table>{head}{''.join(rows)}</table>{paper}",
        "Best grid point of eq 1; refined = Nelder-Mead from it; intervals: profile χ² ≤ "
        "(1 + fit.interval_delta_chi2_rel) χ²_min, ≤/≥ = open at the grid edge.",
    )
)


# --- plausibility ----------------------------------------------------------------------------
def check_rows(record):
    """(name, value text, pass) rows of one plausibility record, whatever its nesting."""
    checks = record.get("checks", record)
    items = checks.items() if isinstance(checks, dict) else enumerate(checks)
    for key, entry in items:
        if not isinstance(entry, dict):
            continue
        name = entry.get("name", key)
        passed = entry.get("pass", entry.get("passed", entry.get("ok")))
        shown = {
            k: v
            for k, v in entry.items()
            if k not in ("name", "pass", "passed", "ok") and not isinstance(v, dict | list)
        }
        text = ", ".join(f"{html.escape(str(k))} = {fmt(v, 3)}" for k, v in shown.items())
        yield str(name), text, passed
    for key in ("diffusion_limit", "dimer_lifetime"):
        entry = record.get(key) if isinstance(record, dict) else None
        if isinstance(entry, dict):
            shown = {k: v for k, v in entry.items() if not isinstance(v, dict | list)}
            text = ", ".join(f"{html.escape(str(k))} = {fmt(v, 3)}" for k, v in shown.items())
            yield f"{key} (numbers)", text, "info"


rows = []
for (sample, model), path in zip(pairs, smk.input.plausibility, strict=True):
    record = read_json(path)
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
Path(smk.output.plausibility).write_text(
    page(
        f"Plausibility of the best fits (docs/science.md §4){synthetic}",
        f"<table>{head}{''.join(rows)}</table>",
        "DMF at 298 K; settings from the plausibility section of the config.",
    )
)
log.info("wrote %d best-fit rows and %d plausibility rows", len(pairs), len(rows))
