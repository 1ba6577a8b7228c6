"""Everything ``best.json`` holds of eq 1's fit (rule fit_best): best grid point, the next
best points, failures, profile intervals (:mod:`intercluster.fit.intervals`; from the zoom when
there is one, :mod:`intercluster.fit.zoom`) and the continuous refinement
(:mod:`intercluster.fit.refine`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..network import RATE_CONSTANTS
from ..settings import ZoomSettings
from .chi2 import failure_summary, ranked
from .intervals import f_test_delta, profile_intervals
from .refine import refine
from .zoom import point_dict, zoom_centres, zoom_summary


def best_fit(
    chi2: pd.DataFrame,
    axes: dict[str, np.ndarray],
    *,
    delta_rel: float,
    f_confidence: float,
    n_next: int = 10,
    objective: Callable[[np.ndarray], float] | None = None,
    max_evaluations: int | None = None,
    zoom_chi2: pd.DataFrame | None = None,
    zoom_settings: ZoomSettings | None = None,
) -> dict:
    """Everything ``best.json`` holds (see the module docstring); refines when ``objective``.

    ``delta_rel``, ``f_confidence``, ``max_evaluations`` (with ``objective``) and
    ``zoom_settings`` (with ``zoom_chi2``) come from ``fit`` of the config
    (:class:`intercluster.settings.FitSettings`).

    With ``zoom_chi2`` (the fine grid's table, :func:`zoom_points`) ``best.json`` gets a
    ``zoom`` section (its best point, profiles and intervals); ``intervals`` and
    ``intervals_f_test`` then come from the zoom (the coarse ones stay under
    ``intervals_coarse`` / ``intervals_f_test_coarse``) and the refinement starts from the
    better of the two best points. ``best``/``k_*``/``chi2`` stay the paper's grid optimum.
    """
    ranking = ranked(chi2)
    summary = failure_summary(chi2)
    out: dict = {"chi2_unit": "min^2", **summary}
    out["grid"] = {name: [float(v) for v in axes[name]] for name in RATE_CONSTANTS}
    if ranking.empty:
        out.update({"k_dim": None, "k_diss": None, "k_ex": None, "chi2": None})
        out.update({"best": None, "next_best": [], "refined": None, "intervals": None})
        return out
    best = point_dict(ranking.iloc[0])
    out.update({n: best[n] for n in (*RATE_CONSTANTS, "chi2", "k_dim_to_k_diss")})
    out["best"] = best
    out["n_species"] = int(ranking.iloc[0]["n_species"])
    out["next_best"] = [point_dict(r) for _, r in ranking.iloc[1 : 1 + n_next].iterrows()]
    out["intervals"] = {"rule": "profile chi2 <= (1 + delta_rel) * chi2_min (relative)"}
    out["intervals"].update(profile_intervals(chi2, delta_rel))
    delta_f = f_test_delta(out["n_species"], 3, f_confidence)
    out["intervals_f_test"] = {
        "rule": "profile chi2 <= (1 + F(1, n-3; conf)/(n-3)) * chi2_min (Bates & Watts)",
        "confidence": float(f_confidence),
        "n_residuals": out["n_species"],
    }
    if np.isfinite(delta_f):
        out["intervals_f_test"].update(profile_intervals(chi2, delta_f))
    start = best
    if zoom_chi2 is not None:
        if zoom_settings is None:
            raise ValueError("best_fit: zoom_chi2 needs zoom_settings")
        centres = zoom_centres(chi2, axes, delta_rel, zoom_settings)
        out["zoom"] = zoom_summary(zoom_chi2, out, centres, zoom_settings, delta_rel, f_confidence)
        zoom_best = out["zoom"]["best"]
        if out["zoom"]["intervals"] is not None:
            out["intervals_coarse"] = out["intervals"]
            out["intervals"] = {**out["intervals"], **out["zoom"]["intervals"], "source": "zoom"}
            if "intervals_f_test" in out["zoom"]:
                out["intervals_f_test_coarse"] = out["intervals_f_test"]
                out["intervals_f_test"] = {
                    **out["intervals_f_test"], **out["zoom"]["intervals_f_test"],
                    "source": "zoom",
                }  # fmt: skip
        if zoom_best is not None and zoom_best["chi2"] < best["chi2"]:
            start = zoom_best
    if objective is not None and max_evaluations is None:
        raise ValueError("best_fit: objective needs max_evaluations")
    out["refined"] = refine(objective, start, axes, max_evaluations) if objective else None
    return out
