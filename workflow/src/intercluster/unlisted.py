"""Signal left unexplained at the m/z of plausible ion forms the system file does not list.

The deconvolution fits only the ion forms the system file lists. An ion that is in the
spectrum but not in the file (one more or one fewer charge, one more or one fewer Na+ for
H+, a composition just outside the file's range, as in a reaction the file's ranges were
not written for) is then either absorbed by a listed neighbour or left in the residual; the
robust pass
(:func:`intercluster.deconvolution.fit_spectrum`) finds the residual's largest features
(``SpectrumFit.unexplained_features``: m/z, counts). This module names the plausible
unlisted forms whose isotope envelope holds such a feature, so ``qc.tsv`` says what is
probably missing from the system file instead of only where.

Two columns are added to ``qc.tsv`` (after the deconvolution's own, which stay as they are):

* ``unlisted_fraction``: counts of the unexplained features that fall on a plausible
  unlisted form, relative to the spectrum's fitted signal (``total_intensity``);
* ``unlisted_forms``: those forms' labels, largest feature first, ``;``-separated, each with
  what makes it unlisted (``composition``, ``charge+1``/``charge-1``, ``Na+1``/``Na-1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .system import Family, IonForm, SystemDefinition

UNLISTED_COLUMNS = ["unlisted_fraction", "unlisted_forms"]
#: compositions tried beyond each end of a family's range
COMPOSITION_MARGIN = 3
#: an envelope is the isotope peaks above this share of its highest one
ENVELOPE_REL = 0.02
#: m/z slack around an envelope (calibration shift up to 20 ppm, peak half width)
ENVELOPE_SLACK_TH = 0.5


@dataclass(frozen=True)
class UnlistedForm:
    """One plausible ion form that the system file does not list, and where it would be."""

    label: str
    why: str  # "composition", "charge+1", "charge-1", "Na+1" or "Na-1"
    mz_lo: float
    mz_hi: float
    mz_mean: float


def _variants(form: IonForm, max_h: int) -> list[tuple[str, IonForm]]:
    """The form with one charge more or fewer (a proton more or fewer removed) and with one
    Na+ more or fewer in place of a proton (same charge), within the ``max_h`` acidic
    protons of the ligand shell (the file's charge model: charge = core - (n_h - n_na); a
    shell without acidic protons has no such variants)."""
    out = []
    if form.n_h + 1 <= max_h:
        out.append(("charge-1", IonForm(form.charge - 1, form.n_na, form.n_h + 1)))
        out.append(("Na+1", IonForm(form.charge, form.n_na + 1, form.n_h + 1)))
    if form.n_h - 1 >= form.n_na:
        out.append(("charge+1", IonForm(form.charge + 1, form.n_na, form.n_h - 1)))
    if form.n_na >= 1:
        out.append(("Na-1", IonForm(form.charge, form.n_na - 1, form.n_h - 1)))
    return out


def _candidates(system: SystemDefinition) -> list[tuple[Family, int, IonForm, str]]:
    listed = {
        (fam.name, n, form.charge, form.n_na, form.n_h)
        for fam in system.enabled_families
        for n in fam.compositions
        for form in fam.ion_forms
    }
    out, seen = [], set(listed)
    for fam in system.enabled_families:
        lo, hi = fam.composition
        outside = [n for n in range(lo - COMPOSITION_MARGIN, hi + COMPOSITION_MARGIN + 1)
                   if (n < lo or n > hi) and 0 <= n <= fam.nuclearity]  # fmt: skip
        for n in outside:
            for form in fam.ion_forms:
                out.append((fam, n, form, "composition"))
        max_h = sum(count * system.ligand(name).acidic_protons for name, count in fam.ligands)
        for n in fam.compositions:
            for form in fam.ion_forms:
                for why, variant in _variants(form, max_h):
                    key = (fam.name, n, variant.charge, variant.n_na, variant.n_h)
                    if key not in seen:
                        seen.add(key)
                        out.append((fam, n, variant, why))
    return out


def unlisted_forms(system: SystemDefinition) -> list[UnlistedForm]:
    """The plausible unlisted ion forms of ``system`` with their isotope envelopes."""
    forms = []
    for fam, n, form, why in _candidates(system):
        try:
            pattern = system.isotope_pattern(fam, n, form)
        except (ValueError, KeyError):  # e.g. more protons removed than the ligands have
            continue
        mz, abundance = np.asarray(pattern.mz, float), np.asarray(pattern.prob, float)
        if mz.size == 0:
            continue
        keep = abundance >= ENVELOPE_REL * abundance.max()
        forms.append(
            UnlistedForm(
                label=system.ion_label(fam, n, form),
                why=why,
                mz_lo=float(mz[keep].min()) - ENVELOPE_SLACK_TH,
                mz_hi=float(mz[keep].max()) + ENVELOPE_SLACK_TH,
                mz_mean=float(np.average(mz, weights=abundance)),
            )
        )
    return forms


def match_features(features, forms: list[UnlistedForm]) -> list[tuple[UnlistedForm, float]]:
    """Each unexplained feature ``(m/z, counts)`` on the unlisted form whose envelope holds
    it (the nearest envelope centre when several do); features on none are left out."""
    if not forms:
        return []
    lo = np.array([f.mz_lo for f in forms])
    hi = np.array([f.mz_hi for f in forms])
    centre = np.array([f.mz_mean for f in forms])
    out = []
    for mz, counts in features:
        inside = np.flatnonzero((lo <= mz) & (mz <= hi))
        if inside.size:
            best = inside[np.argmin(np.abs(centre[inside] - mz))]
            out.append((forms[best], float(counts)))
    return out


def unlisted_table(fits, system: SystemDefinition, forms=None) -> pd.DataFrame:
    """The ``UNLISTED_COLUMNS`` of ``qc.tsv``, one row per fit (spectrum)."""
    forms = unlisted_forms(system) if forms is None else forms
    fractions, labels = [], []
    for fit in fits:
        matched = match_features(fit.unexplained_features, forms)
        total = float(np.sum(fit.coef))
        counts = sum(c for _, c in matched)
        fractions.append(counts / total if total > 0 else 0.0)
        names = list(dict.fromkeys(f"{form.label} ({form.why})" for form, _ in matched))
        labels.append(";".join(names))
    return pd.DataFrame({"unlisted_fraction": fractions, "unlisted_forms": labels})
