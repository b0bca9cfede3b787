"""SQL over a work directory's tables (DuckDB, embedded): ``voli query WORKDIR "SQL"``.

Views, each present once the stage that writes it has run (the files are the stages' tables in
the work directory, :class:`voli.workdir.Workdir`):

==========  ==========================================================================
vowels      features' vowels.parquet: one row per vowel token
phones      align's phones.parquet: every aligned phone
words       align's words.parquet: every aligned word
utterances  features' prosody.parquet (rates, pauses, F0, intensity per utterance) with
            align's utterances.parquet's n_phones, log_likelihood and status; before the
            features stage has run, align's utterances.parquet alone
speakers    every speaker of speakers.csv (prepare's speakers.parquet) with the survey
            columns (numbers where every filled cell is a number) and role; plus the
            speaker measures of profile's speakers.parquet once the profile stage has run
tokens      profile's tokens.parquet: the tokens the profile stage kept, normalised
exclusions  <workdir>/exclusions.csv: tokens excluded by ear (``voli browse``)
==========  ==========================================================================
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from voli.errors import VoliError
from voli.workdir import Workdir, rel

# view -> (the stage that writes it, its table)
SOURCES = {
    "vowels": ("features", "vowels"),
    "phones": ("align", "phones"),
    "words": ("align", "words"),
    "utterances": ("features", "prosody"),
    "speakers": ("prepare", "speakers"),
    "tokens": ("profile", "tokens"),
}
MAX_PRINTED_ROWS = 200


def corpus_of(workdir: str | Path) -> str:
    """The corpus directory a work directory was made from (the config.yaml of prepare), or 'CORPUS'."""
    import yaml

    path = Workdir(workdir).config("prepare")
    try:
        return str(yaml.safe_load(path.read_text(encoding="utf-8")).get("corpus") or "CORPUS")
    except (OSError, AttributeError, yaml.YAMLError):
        return "CORPUS"


def check_workdir(workdir: str | Path) -> Path:
    """``workdir`` as a Path, or an error if it is not a voli work directory."""
    workdir = Path(workdir)
    if not Workdir(workdir).table("prepare", "speakers").is_file():
        raise VoliError(f"{workdir}: not a voli work directory ({rel('prepare', 'speakers.parquet')} is missing); "
                        "give the directory `voli run CORPUS --workdir DIR` wrote (default exp/<corpus name>)")
    return workdir


def missing_stage_message(workdir: Path, view: str) -> str:
    """What to run so that ``view`` exists."""
    stage, table = SOURCES[view]
    return (f"the view {view} reads {Workdir(workdir).table(stage, table)}, which is not there yet: run "
            f"`voli {stage} {corpus_of(workdir)} --workdir {workdir}` first")


def _typed(workdir: Path, speakers: pd.DataFrame) -> pd.DataFrame:
    """The survey columns typed as the profile types them (voli.io.survey: survey.yaml's types
    when the corpus is where prepare's config.yaml says, inferred otherwise; "NA" missing,
    "12,500" and "3,5" numbers); categorical columns as text."""
    from voli.io.survey import attribute_types, survey_table

    corpus = Path(corpus_of(workdir))
    raw = speakers.astype(object).where(speakers.notna(), "").astype(str)
    types = attribute_types(corpus, raw)  # reads corpus/survey.yaml where it is there
    typed = survey_table(corpus, raw, types)
    out = speakers.copy()
    for name in types:
        out[name] = typed[name] if types[name].kind == "numeric" else typed[name].astype(object)
    return out


def speaker_table(workdir: str | Path) -> pd.DataFrame:
    """Every speaker with survey columns, role (``;``-joined if several) and, after the profile
    stage, its speaker measures. One row per speaker_id."""
    workdir = check_workdir(workdir)
    speakers = _typed(workdir, pd.read_parquet(Workdir(workdir).table("prepare", "speakers")))
    speakers["speaker_id"] = speakers["speaker_id"].astype(str)
    roles_path = Workdir(workdir).table("prepare", "recording_speakers")
    if roles_path.is_file() and "role" not in speakers.columns:
        rs = pd.read_parquet(roles_path, columns=["speaker_id", "role"])
        roles = rs.dropna().groupby("speaker_id")["role"].agg(lambda r: ";".join(sorted(set(map(str, r)))))
        speakers["role"] = speakers["speaker_id"].map(roles).astype("object")
    profile_path = Workdir(workdir).table("profile", "speakers")
    if profile_path.is_file():
        measures = pd.read_parquet(profile_path)
        extra = [c for c in measures.columns if c not in speakers.columns]
        if extra:
            measures = measures[["speaker_id", *extra]].copy()
            measures["speaker_id"] = measures["speaker_id"].astype(str)
            speakers = speakers.merge(measures, on="speaker_id", how="left")
    return speakers


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def connect(workdir: str | Path):
    """An in-memory DuckDB connection with the work directory's views (those whose stage has run).

    Returns
    -------
    con : duckdb.DuckDBPyConnection
    views : dict
        view name -> list of its column names.
    """
    try:
        import duckdb
    except ImportError as err:
        raise VoliError("voli query needs DuckDB: pip install duckdb (it is in requirements.lock)") from err
    from voli.io.exclusions import read_exclusions

    workdir = check_workdir(workdir)
    con = duckdb.connect(":memory:")
    for view in ("vowels", "phones", "words", "tokens"):
        path = Workdir(workdir).table(*SOURCES[view])
        if path.is_file():
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({_sql_path(path)})")
    prosody, aligned = Workdir(workdir).table(*SOURCES["utterances"]), Workdir(workdir).table("align", "utterances")
    if prosody.is_file() and aligned.is_file():
        con.execute(f"CREATE VIEW utterances AS SELECT p.*, a.n_phones, a.log_likelihood, a.status "
                    f"FROM read_parquet({_sql_path(prosody)}) p "
                    f"LEFT JOIN read_parquet({_sql_path(aligned)}) a USING (utterance_id)")
    elif prosody.is_file() or aligned.is_file():
        con.execute(f"CREATE VIEW utterances AS SELECT * FROM read_parquet({_sql_path(prosody if prosody.is_file() else aligned)})")
    con.register("speakers", speaker_table(workdir))
    con.register("exclusions", read_exclusions(workdir))
    views = {}
    for (name,) in con.execute("SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall():
        views[name] = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [name]).fetchall()]
    return con, views


def describe(views: dict[str, list[str]]) -> str:
    """The views and their columns, one view a line."""
    return "\n".join(f"  {name}: {', '.join(cols)}" for name, cols in views.items())


def run_query(workdir: str | Path, sql: str) -> pd.DataFrame:
    """Run one SQL statement over the work directory's views; its result as a DataFrame.

    Raises
    ------
    VoliError
        For SQL DuckDB rejects (the message lists the views and their columns) and for a view
        whose stage has not run (the message names the command to run).
    """
    import duckdb

    workdir = Path(workdir)
    con, views = connect(workdir)
    try:
        return con.execute(sql).fetchdf()
    except duckdb.Error as err:
        text = str(err).strip()
        missing = re.search(r"Table with name (\w+) does not exist", text)
        if missing and missing.group(1).lower() in SOURCES and missing.group(1).lower() not in views:
            raise VoliError(f"{missing_stage_message(workdir, missing.group(1).lower())}") from err
        raise VoliError(f"the query failed: {text}\nviews in {workdir}:\n{describe(views)}") from err
    finally:
        con.close()


def write_result(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write a query's result to ``out`` (.csv or .parquet), atomically."""
    from voli.io.tables import atomic_path

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise VoliError(f"--out {out}: unknown file type {out.suffix or '(none)'!r}; end the name in .csv or .parquet")
    with atomic_path(out) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, encoding="utf-8")
        else:
            frame.to_parquet(tmp, index=False)
    return out


def format_result(frame: pd.DataFrame, *, max_rows: int = MAX_PRINTED_ROWS) -> str:
    """The result as a text table (the first ``max_rows`` rows, then how many more)."""
    if frame.empty:
        return f"(no rows; columns: {', '.join(map(str, frame.columns))})"
    shown = frame.head(max_rows)
    text = shown.to_string(index=False, max_colwidth=60, float_format=lambda x: f"{x:.6g}")
    if len(frame) > max_rows:
        text += f"\n... {len(frame) - max_rows} more rows ({len(frame)} in all); --out FILE.csv writes them all"
    return text
