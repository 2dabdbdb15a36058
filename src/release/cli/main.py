"""`release` commands: call the library, render the report, set the exit code."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from release import __version__
from release.atomic import append_text, write_atomic
from release.errors import (
    EXIT_GATE_FAILED,
    EXIT_PASSED,
    EXIT_TOOL_FAILED,
    EXIT_USAGE,
    ReleaseError,
    UsageError,
    display_path,
)
from release.formats import FORMATS, json_format, renderer
from release.pipeline.report import Report

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Ui:
    """How this invocation talks to the user: format, destination, verbosity."""

    fmt: str
    output: Path | None
    quiet: bool
    verbose: bool
    summary: Path | None = None

    def status(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def emit(self, report: Report) -> int:
        color = (self.fmt == "text" and self.output is None and sys.stdout.isatty()
                 and "NO_COLOR" not in os.environ)
        rendered = renderer(self.fmt, color=color)(report)
        if self.summary is not None:
            append_text(self.summary, renderer("markdown")(report))
        if self.output is not None:
            write_atomic(self.output, rendered)
            self.status(f"report written to {display_path(self.output)}")
        elif not (self.quiet and self.fmt == "text"):
            click.echo(rendered, nl=False)
        return EXIT_PASSED if report.passed else EXIT_GATE_FAILED

    def progress(self) -> Any:
        from release.cli.progress import make_progress

        return make_progress(self.quiet)


def common_options(func: F) -> F:
    options = [
        click.option("--config", "config_path", type=click.Path(path_type=Path),
                     help="Config file (default ./release.toml)."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
                     show_default=True, help="Report format."),
        click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
                     help="Write the report here instead of stdout."),
        click.option("-q", "--quiet", is_flag=True, help="No progress or status messages."),
        click.option("-v", "--verbose", is_flag=True, help="Show tracebacks on internal errors."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _ui(fmt: str, output: Path | None, quiet: bool, verbose: bool,
        summary: Path | None = None) -> Ui:
    return Ui(fmt=fmt, output=output, quiet=quiet, verbose=verbose, summary=summary)


def _load(config_path: Path | None) -> Any:
    from release.config import load_config

    return load_config(config_path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="release")
def cli() -> None:
    """Package a model trained on confidential data for open publication, safely."""


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing release.toml.")
@click.option("-q", "--quiet", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
def init(directory: Path, force: bool, quiet: bool, verbose: bool) -> int:
    """Write a commented release.toml for the project found in DIRECTORY."""
    from release.scaffold import write_config

    written, found = write_config(directory, force=force)
    ui = _ui("text", None, quiet, verbose)
    ui.status(f"wrote {display_path(written)}")
    for line in found:
        ui.status(f"  {line}")
    ui.status("review every TODO in it, then run `release scan`")
    return EXIT_PASSED


def _summary_option(func: F) -> F:
    return click.option(
        "--summary", type=click.Path(path_type=Path, dir_okay=False),
        help="Also append the report as Markdown to this file (e.g. $GITHUB_STEP_SUMMARY).",
    )(func)


def _baseline_option(func: F) -> F:
    return click.option(
        "--baseline", "baseline_path", type=click.Path(path_type=Path, dir_okay=False),
        help="Accepted findings (default [checks].baseline or release.baseline.json).")(func)


@cli.command()
@click.option("--files", "only_files", is_flag=True,
              help="Scan only the FILES given (a pre-commit hook's staged files).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@common_options
@_baseline_option
@_summary_option
def scan(only_files: bool, paths: tuple[Path, ...], config_path: Path | None, fmt: str,
         output: Path | None, quiet: bool, verbose: bool, baseline_path: Path | None,
         summary: Path | None) -> int:
    """Inventory and scan everything that would ship (fast; for pre-commit and CI)."""
    from release.pipeline.scan import baseline_for
    from release.pipeline.scan import scan as run_scan

    if paths and not only_files:
        raise UsageError("file arguments need --files (release scan --files FILE...)")
    ui = _ui(fmt, output, quiet, verbose, summary)
    config = _load(config_path)
    result = run_scan(config, progress=ui.progress(),
                      baseline=baseline_for(config, baseline_path), hash_files=False,
                      files=list(paths) if only_files else None)
    for note in result.notes:
        ui.status(note)
    return ui.emit(result.report)


@cli.command()
@common_options
@_baseline_option
@_summary_option
def prepare(config_path: Path | None, fmt: str, output: Path | None, quiet: bool, verbose: bool,
            baseline_path: Path | None, summary: Path | None) -> int:
    """Run the whole pipeline and stage the release with its manifest and report."""
    from release.pipeline.scan import baseline_for
    from release.pipeline.scan import scan as run_scan
    from release.pipeline.stage import stage_release

    ui = _ui(fmt, output, quiet, verbose, summary)
    config = _load(config_path)
    progress = ui.progress()
    result = run_scan(config, progress=progress, baseline=baseline_for(config, baseline_path),
                      command="prepare", audit=True, licensing=True)
    for note in result.notes:
        ui.status(note)
    if not result.report.passed:
        write_atomic(config.report_path, json_format.render(result.report))
        code = ui.emit(result.report)
        ui.status(f"not staged: the gate failed; report at {display_path(config.report_path)}")
        return code
    staged = stage_release(config, result, progress=progress)
    code = ui.emit(staged.report)
    ui.status(f"staged {display_path(staged.path)} ({len(staged.manifest.files)} files)")
    ui.status(f"report {display_path(staged.report_path)}")
    return code


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), required=False)
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="The release report (default: release-report.json next to DIRECTORY).")
@click.option("--commit", "expected_commit",
              help="The git commit the release must have been built from (default: the commit "
                   "checked out in [code].path of the config).")
@common_options
@_summary_option
def check(directory: Path | None, report_path: Path | None, expected_commit: str | None,
          config_path: Path | None, fmt: str, output: Path | None, quiet: bool, verbose: bool,
          summary: Path | None) -> int:
    """Verify a staged release against its manifest and report (the CI gate)."""
    from release.pipeline.check import check_staged
    from release.pipeline.inventory import head_commit

    ui = _ui(fmt, output, quiet, verbose, summary)
    explicit = expected_commit is not None
    if directory is None or config_path is not None or Path("release.toml").is_file():
        config = _load(config_path)
        directory = directory or config.staged_dir
        report_path = report_path or config.report_path
        where = config.code.path if config.code is not None else config.root
        expected_commit = expected_commit or head_commit(where)
    elif not explicit:
        ui.status("not checking the source commit: give --commit, or run where release.toml is")
    report, manifest = check_staged(directory, report_path, progress=ui.progress(),
                                    expected_commit=expected_commit, require_commit=explicit)
    if manifest is not None:
        built = manifest.git_commit or "no git commit"
        branch = f" on branch {manifest.git_branch}" if manifest.git_branch else ""
        ui.status(f"{display_path(directory)} was built from {built}{branch}"
                  + (f"; checking commit {expected_commit}" if expected_commit else ""))
    return ui.emit(report)


@cli.command()
@click.option("--to", "target", type=click.Choice(["git", "hub"]), required=True,
              help="Push to [publish.git] or [publish.hub].")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), required=False)
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="The release report (default: release-report.json next to DIRECTORY).")
@click.option("--dry-run", is_flag=True, help="Print what would be pushed and change nothing.")
@common_options
@_summary_option
def publish(target: str, directory: Path | None, report_path: Path | None, dry_run: bool,
            config_path: Path | None, fmt: str, output: Path | None, quiet: bool,
            verbose: bool, summary: Path | None) -> int:
    """Push a staged release that passed, as one commit and a tag, then read it back."""
    from release.publish.run import publish as run_publish

    ui = _ui(fmt, output, quiet, verbose, summary)
    config = _load(config_path)
    result = run_publish(config, target, staged_dir=directory, report_path=report_path,
                         dry_run=dry_run, progress=ui.progress())
    code = ui.emit(result.report)
    if result.record is not None and result.record.status == "unchanged":
        ui.status(f"already published: {result.record.tag} at {result.record.commit[:12]} "
                  "holds exactly this release; nothing was pushed")
    elif result.record is not None and result.report.passed:
        ui.status(f"published {result.record.tag} ({result.record.commit[:12]}) to "
                  f"{result.record.url}")
    elif not result.report.passed:
        ui.status("nothing was published")
    elif dry_run:
        ui.status("dry run: nothing was pushed")
    return code


@cli.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default ./release.toml).")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the card here instead of stdout.")
@click.option("-q", "--quiet", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
def card(config_path: Path | None, output: Path | None, quiet: bool, verbose: bool) -> int:
    """Render the model card alone (the README.md that prepare stages)."""
    from release.pipeline.scan import scan as run_scan

    ui = _ui("text", output, quiet, verbose)
    config = _load(config_path)
    result = run_scan(config, progress=ui.progress(), command="card", audit=True,
                      licensing=True, hash_files=False)
    assert result.card is not None
    if output is not None:
        write_atomic(output, result.card)
        ui.status(f"card written to {display_path(output)}")
    else:
        click.echo(result.card, nl=False)
    card_findings = [f for f in result.report.active_findings if f.path == "README.md"]
    for finding in card_findings:
        ui.status(f"{finding.effective_severity.value} {finding.rule.id} {finding.message}")
    failing = [f for f in card_findings if f in result.report.failing_findings]
    return EXIT_GATE_FAILED if failing else EXIT_PASSED


@cli.command()
@common_options
@_baseline_option
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where the model runs (default [checks.memorization].device).")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]),
              help="Weights dtype (default [checks.memorization].dtype).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Samples per forward pass.")
def audit(config_path: Path | None, fmt: str, output: Path | None, quiet: bool, verbose: bool,
          baseline_path: Path | None, device: str | None, dtype: str | None,
          batch_size: int | None) -> int:
    """Memorisation audit: does the model reproduce training records from their first tokens?"""
    from release.audit.run import AuditOptions, run_audit
    from release.findings import Severity
    from release.pipeline.context import ReleaseInfo, ReportContext
    from release.pipeline.scan import baseline_for

    ui = _ui(fmt, output, quiet, verbose)
    config = _load(config_path)
    settings = config.checks.memorization
    options = AuditOptions(device or settings.device, dtype or settings.dtype,
                           batch_size or settings.batch_size)
    result = run_audit(config, options, progress=ui.progress())
    report = Report.create("audit", result.findings, [], fail_on=Severity(config.checks.fail_on),
                           baseline=baseline_for(config, baseline_path),
                           context=ReportContext(
                               release=ReleaseInfo(config.release.name, config.release.version),
                               memorization=result.summary))
    summary = result.summary
    ui.status(f"audited {summary.samples} records: {summary.extractable} extractable "
              f"(rate {summary.rate}), {summary.rechecked_with_generate} near-ties "
              f"re-checked with generate, {summary.too_short} too short")
    return ui.emit(report)


@cli.group()
def index() -> None:
    """The keyed fingerprint index of the confidential training data."""


@index.command("build")
@click.option("--config", "config_path", type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
def index_build(config_path: Path | None, quiet: bool, verbose: bool) -> int:
    """Build the index from [data].sources (where the data lives)."""
    from release.fingerprint.index import index_size
    from release.fingerprint.keys import load_key
    from release.fingerprint.service import build

    ui = _ui("text", None, quiet, verbose)
    config = _load(config_path)
    key, created = load_key(config.data.key_file, create=True)
    if created:
        ui.status(f"generated a new index key in {display_path(config.data.key_file)}: keep it "
                  "secret, out of git, and give it to CI as RELEASE_INDEX_KEY")
    meta = build(config, key, ui.progress())
    ui.status(f"indexed {meta.records} records ({meta.text_bytes} bytes of text) into "
              f"{display_path(config.data.index)} ({index_size(config.data.index)} bytes)")
    return EXIT_PASSED


@index.command("info")
@click.option("--config", "config_path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def index_info(config_path: Path | None, fmt: str) -> int:
    """Print the index's size, record count and parameters (no key needed)."""
    from dataclasses import asdict

    from release.fingerprint.index import index_size, read_meta

    config = _load(config_path)
    meta = read_meta(config.data.index)
    size = index_size(config.data.index)
    info = {
        "path": display_path(config.data.index), "bytes": size, "records": meta.records,
        "units": meta.units, "grams": meta.grams, "sensitive_values": meta.sensitive,
        "text_bytes": meta.text_bytes,
        "bytes_per_text_byte": round(size / meta.text_bytes, 4) if meta.text_bytes else None,
        "params": asdict(meta.params), "created": meta.created,
        "sources": [{"key": s.key, "size": s.size} for s in meta.sources],
        "tool_version": meta.tool_version,
    }
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
        return EXIT_PASSED
    p = meta.params
    click.echo(f"index      {info['path']} ({size} bytes, "
               f"{info['bytes_per_text_byte']} per byte of indexed text)")
    click.echo(f"records    {meta.records} ({meta.text_bytes} bytes of text, "
               f"{meta.sensitive} sensitive values)")
    click.echo(f"grams      {meta.grams} stored: every {p.stride}th {p.gram_words}-word gram, "
               f"{p.fingerprint_bytes}-byte fingerprints, {p.check_bits} check bits per "
               f"neighbouring word")
    click.echo(f"guarantee  every shared run of >= {p.min_match_words} words is found; "
               f"sensitive values of >= {p.min_sensitive_chars} characters")
    click.echo(f"built      {meta.created} by release {meta.tool_version}")
    return EXIT_PASSED


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def licenses(fmt: str) -> int:
    """List the licences whose texts ship with release: OSI status and Hugging Face id."""
    from release.licensing.catalog import load_catalog

    entries = [{"id": i.id, "name": i.name, "osi": i.osi, "hf": i.hf,
                "restricted": i.restricted} for i in load_catalog().licenses.values()]
    return _listing(entries, fmt, lambda e: (
        f"{e['id']:<46} {e['hf'] or 'other':<26} {'OSI' if e['osi'] else '   '}"
        + (" use-restricted" if e["restricted"] else "")))


def _listing(entries: list[dict[str, Any]], fmt: str, line: Callable[[dict[str, Any]], str]
             ) -> int:
    """Print a reference table: as JSON, or one formatted line per entry."""
    if fmt == "json":
        click.echo(json.dumps(entries, indent=2))
    else:
        for entry in entries:
            click.echo(line(entry))
    return EXIT_PASSED


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def rules(fmt: str) -> int:
    """List every rule id with its one-line description."""
    from release.rules import ALL_RULES

    entries = [{"id": r.id, "name": r.name, "severity": r.severity.value,
                "description": r.description} for r in ALL_RULES]
    return _listing(entries, fmt, lambda e: (
        f"{e['id']}  {e['name']:<26} {e['severity']:<8} {e['description']}"))


@cli.command()
@click.argument("fingerprints", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why this finding is acceptable.")
@click.option("--by", "accepted_by", required=True, help="Who accepts it.")
@click.option("--expires", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date (YYYY-MM-DD) after which the finding fails again.")
@click.option("--config", "config_path", type=click.Path(path_type=Path))
@_baseline_option
@click.option("-q", "--quiet", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
def accept(fingerprints: Sequence[str], reason: str, accepted_by: str, expires: dt.datetime,
           config_path: Path | None, baseline_path: Path | None, quiet: bool,
           verbose: bool) -> int:
    """Accept findings by fingerprint into the baseline file, with a reason and an expiry."""
    from release.baseline import Acceptance, Baseline, save_baseline
    from release.config import DEFAULT_BASELINE_NAME
    from release.pipeline.scan import baseline_for
    from release.pipeline.scan import scan as run_scan

    ui = _ui("text", None, quiet, verbose)
    if expires.date() < dt.date.today():
        raise UsageError(f"--expires {expires.date().isoformat()} is in the past")
    config = _load(config_path)
    current = baseline_for(config, baseline_path)
    findings = {f.fingerprint: f for f in run_scan(config, baseline=Baseline(None)).report.findings}
    entries = {a.fingerprint: a for a in current.acceptances}
    for fingerprint in fingerprints:
        finding = findings.get(fingerprint)
        if finding is None:
            raise UsageError(f"no current finding has fingerprint {fingerprint} "
                             "(see `release scan --format json`)")
        entries[fingerprint] = Acceptance(fingerprint, reason, accepted_by, expires.date(),
                                          finding.rule.id, finding.path)
        ui.status(f"accepted {finding.rule.id} {finding.path or '(config)'} until "
                  f"{expires.date().isoformat()}")
    path = current.path or (config.root / DEFAULT_BASELINE_NAME)
    save_baseline(Baseline(path, tuple(entries.values())))
    ui.status(f"baseline {display_path(path)}")
    return EXIT_PASSED


def _internal_error(exc: BaseException, verbose: bool) -> None:
    """Report an unexpected error without its message, which could quote input data."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    click.echo(f"release: internal error: {type(exc).__name__}{where} "
               "(run with -v for a traceback; the message is withheld because it may quote "
               "input data)", err=True)
    if verbose:
        click.echo("".join(traceback.format_tb(exc.__traceback__)), err=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    try:
        code = cli.main(args=args, prog_name="release", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("release: aborted", err=True)
        code = EXIT_TOOL_FAILED
    except ReleaseError as exc:
        click.echo(f"release: error: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("release: interrupted; nothing was left half-written", err=True)
        code = 130
    except Exception as exc:
        _internal_error(exc, verbose)
        code = EXIT_TOOL_FAILED
    sys.exit(code if isinstance(code, int) else EXIT_PASSED)
