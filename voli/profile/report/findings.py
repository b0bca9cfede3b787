"""The report's lead: the controlled effects of the survey attributes, the checks, the calibration, R."""

from __future__ import annotations

from voli.profile.report.format import effect_label, has, plural, safe_name, table_view
from voli.profile.report.render import render
from voli.workdir import rel

FINDING_COLUMNS = ("effect on", "attribute", "term", "estimate", "ci_low", "ci_high", "estimate_sd", "p", "q",
                   "q_report", "n_speakers", "formula")
ADJUSTMENT_LEVELS = (("utterance", "prosody (one row per utterance)"), ("token", "each vowel (one row per token)"),
                     ("speaker", "speaker measures (one row per speaker)"))


def format_calibration(table) -> str:
    """The calibration table as lines of text (voli calibrate's output)."""
    if table is None or not len(table):
        return "calibration: no family was fitted"
    lines = [f"calibration on this corpus: {int(table.shuffles.iloc[0])} shuffles within {table.strata.iloc[0]}, "
             f"engine {table.engine.iloc[0]}"]
    for _, r in table.iterrows():
        lines.append(f"  {r.family:<32} {r.what:<16} {r.threshold:<40} {r.rate:6.1%} "
                     f"[{r.ci_low:.1%}, {r.ci_high:.1%}] ({int(r.hits)}/{int(r.tests)})"
                     + ("  FLAGGED" if r.flagged else ""))
    if "movable" in table and table.movable.iloc[0] < 1:
        lines.append(f"  the shuffles could move {table.movable.iloc[0]:.0%} of the speakers' values (the others are "
                     "alone in their stratum, or share its one value): the rates describe that part")
    return "\n".join(lines)


def adjustments(models) -> list[dict]:
    """Per attribute, what its models adjusted for at each level.

    One ``{"attribute", "levels": [{"words", "adjusted", "random"}]}`` per attribute, in the models' order.
    """
    found = []
    for attribute, d in models.groupby("attribute", sort=False):
        levels = []
        for level, words in ADJUSTMENT_LEVELS:
            e = d[d.level == level]
            if not len(e):
                continue
            random = e.random.mode().iloc[0] if "random" in e else ""
            levels.append({"words": words, "adjusted": e.adjusted_for.mode().iloc[0] if "adjusted_for" in e else "?",
                           "random": random if random and not random.startswith("none") else ""})
        found.append({"attribute": attribute, "levels": levels})
    return found


def calibration_context(calibration) -> dict | None:
    """The calibration paragraph's content: flagged families with their rates, the settings, the table."""
    if calibration is None or not len(calibration):
        return None
    flagged = calibration[calibration.flagged.astype(bool)]
    c = calibration.iloc[0]
    shown = calibration[["family", "what", "threshold", "rate", "ci_low", "ci_high", "hits", "tests"]]
    return {"flagged": [{"family": r.family, "rate": f"{r.rate:.1%}", "ci": f"[{r.ci_low:.1%}, {r.ci_high:.1%}]",
                         "threshold": r.threshold} for _, r in flagged.iterrows()],
            "shuffles": int(c.shuffles), "strata": c.strata, "shift_sd": f"{c.shift_sd:g}",
            "movable": f"{c.movable:.0%}" if "movable" in calibration and c.movable == c.movable else "",
            "table": table_view(shown, "calibration")}


def checks_in_order(checks) -> list[dict]:
    """The checks to read before the effects, an attribute that follows a control first."""
    if not has(checks, "message"):
        return []
    first = checks.kind.astype(str) == "follows_control" if "kind" in checks else checks.message.isna()
    return [{"kind": r["kind"], "message": r["message"]} for rows in (checks[first], checks[~first])
            for _, r in rows.iterrows()]


def effect_groups(models) -> list[dict]:
    """The primary tests per vowel and the others: the effects with q < 0.05, or the smallest p-values."""
    primary = models[models.primary.astype(bool)].copy()
    primary["effect on"] = primary.apply(effect_label, axis=1)
    groups = []
    for title, rows in (("Per vowel", primary[primary.level == "token"]),
                        ("Prosody and speaker measures", primary[primary.level != "token"])):
        found = rows[rows.q.astype(float) < 0.05].sort_values("q", kind="stable")
        group = {"title": title, "n_tests": len(rows), "n_found": plural(len(found), "effect"), "found": None,
                 "nearest": None}
        if len(found):
            group["found"] = table_view(found[[c for c in FINDING_COLUMNS if c in found]],
                                        f"findings_{safe_name(title)}")
        elif len(rows):
            near = rows.sort_values("p", kind="stable").head(5)
            group["nearest"] = table_view(near[[c for c in FINDING_COLUMNS if c in near]],
                                          f"nearest_{safe_name(title)}")
        groups.append(group)
    return groups


def findings_context(tables) -> dict:
    models, calibration = tables.get("models"), tables.get("calibration")
    flagged = None
    if calibration is not None and len(calibration) and calibration.flagged.astype(bool).any():
        flagged = ", ".join(sorted(set(calibration[calibration.flagged.astype(bool)].family)))
    context = {"flagged": flagged, "fitted": has(models, "family", "primary", "p", "q"),
               "export_dir": rel("profile", "export")}
    if not context["fitted"]:
        return context
    return {**context,
            "engine": models.engine.iloc[0] if "engine" in models else "?",
            "n_models": models.model_id.nunique() if "model_id" in models else len(models),
            "excluded": int(models.attrs.get("excluded_tokens", 0) if hasattr(models, "attrs") else 0),
            "checked": int(models.attrs.get("checked_tokens", 0) if hasattr(models, "attrs") else 0),
            "checked_only": bool(models.attrs.get("checked_only", False) if hasattr(models, "attrs") else False),
            "checks": checks_in_order(tables.get("checks")),
            "adjustments": adjustments(models),
            "calibration": calibration_context(calibration),
            "groups": effect_groups(models)}


def _findings_section(tables) -> str:
    """The report's lead: controlled per-vowel and prosodic effects, the checks, and how to rerun them in R."""
    return render("findings.html.j2", **findings_context(tables))
