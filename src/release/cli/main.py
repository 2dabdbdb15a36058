"""`release` commands: parse, call one library function, render, choose the exit code."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from release import __version__
from release.atomic import write_atomic
from release.cli.ui import (
    Ui,
    baseline_option,
    common_options,
    config_option,
    format_options,
    quiet_options,
    report_option,
    summary_option,
)
from release.config import Config
from release.errors import (
    EXIT_GATE_FAILED,
    EXIT_PASSED,
    EXIT_TOOL_FAILED,
    EXIT_USAGE,
    ReleaseError,
    UsageError,
    display_path,
)
from release.formats import printable
from release.pipeline.context import MemorizationSummary
from release.publish import targets


def _load(config_path: Path | None) -> Config:
    from release.config import load_config

    return load_config(config_path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="release")
def cli() -> None:
    """Package a model trained on confidential data for open publication, safely."""


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing release.toml.")
@quiet_options
def init(directory: Path, force: bool, quiet: bool, verbose: bool) -> int:
    """Write a commented release.toml for the project found in DIRECTORY."""
    from release.scaffold import write_config

    written, found = write_config(directory, force=force)
    ui = Ui(quiet=quiet, verbose=verbose)
    ui.status(f"wrote {display_path(written)}")
    ui.notes([f"  {line}" for line in found])
    ui.status("review every TODO in it, then run `release scan`")
    return EXIT_PASSED


@cli.command()
@click.option("--files", "only_files", is_flag=True,
              help="Scan only the FILES given (a pre-commit hook's staged files).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@common_options
@baseline_option
@summary_option
def scan(only_files: bool, paths: tuple[Path, ...], config_path: Path | None, fmt: str,
         output: Path | None, quiet: bool, verbose: bool, baseline_path: Path | None,
         summary: Path | None) -> int:
    """Inventory and scan everything that would ship (fast; for pre-commit and CI)."""
    from release.baseline import baseline_for
    from release.pipeline.scan import ScanOptions
    from release.pipeline.scan import scan as run_scan

    if paths and not only_files:
        raise UsageError("file arguments need --files (release scan --files FILE...)")
    ui = Ui(fmt, output, quiet, verbose, summary)
    config = _load(config_path)
    options = ScanOptions(hash_files=False, files=list(paths) if only_files else None,
                          baseline=baseline_for(config, baseline_path))
    result = run_scan(config, options, ui.progress())
    ui.notes(result.notes)
    return ui.emit(result.report)


@cli.command()
@common_options
@baseline_option
@summary_option
def prepare(config_path: Path | None, fmt: str, output: Path | None, quiet: bool, verbose: bool,
            baseline_path: Path | None, summary: Path | None) -> int:
    """Run the whole pipeline and stage the release with its manifest and report."""
    from release.baseline import baseline_for
    from release.pipeline.prepare import prepare as run_prepare

    ui = Ui(fmt, output, quiet, verbose, summary)
    config = _load(config_path)
    result = run_prepare(config, baseline=baseline_for(config, baseline_path),
                         progress=ui.progress())
    ui.notes(result.notes)
    code = ui.emit(result.report)
    if result.staged is None:
        ui.status(f"not staged: the gate failed; report at {display_path(result.report_path)}")
    else:
        ui.status(f"staged {display_path(result.staged.path)} "
                  f"({len(result.staged.manifest.files)} files)")
        ui.status(f"report {display_path(result.report_path)}")
    return code


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), required=False)
@report_option
@click.option("--commit", "expected_commit",
              help="The git commit the release must have been built from (default: the commit "
                   "checked out in [code].path of the config).")
@common_options
@summary_option
def check(directory: Path | None, report_path: Path | None, expected_commit: str | None,
          config_path: Path | None, fmt: str, output: Path | None, quiet: bool, verbose: bool,
          summary: Path | None) -> int:
    """Verify a staged release against its manifest and report (the CI gate)."""
    from release.pipeline.check import check_release

    ui = Ui(fmt, output, quiet, verbose, summary)
    result = check_release(directory, report_path=report_path, expected_commit=expected_commit,
                           config_path=config_path, progress=ui.progress())
    ui.notes(result.notes)
    return ui.emit(result.report)


@cli.command()
@click.option("--to", "target", type=click.Choice(targets()), required=True,
              help="Push to [publish.git] or [publish.hub].")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), required=False)
@report_option
@click.option("--dry-run", is_flag=True, help="Print what would be pushed and change nothing.")
@click.option("--commit", "expected_commit",
              help="The git commit the staged release must have been built from (default: the "
                   "commit checked out in [code].path).")
@common_options
@summary_option
def publish(target: str, directory: Path | None, report_path: Path | None, dry_run: bool,
            expected_commit: str | None, config_path: Path | None, fmt: str,
            output: Path | None, quiet: bool, verbose: bool, summary: Path | None) -> int:
    """Push a staged release that passed, as one commit and a tag, then read it back."""
    from release.publish.run import PublishOptions
    from release.publish.run import publish as run_publish

    ui = Ui(fmt, output, quiet, verbose, summary)
    options = PublishOptions(directory, report_path, expected_commit, dry_run)
    result = run_publish(_load(config_path), target, options, progress=ui.progress())
    code = ui.emit(result.report)
    if result.outcome is not None:
        ui.status(result.outcome)
    return code


@cli.command()
@common_options
def sign(config_path: Path | None, fmt: str, output: Path | None, quiet: bool,
         verbose: bool) -> int:
    """Sign the staged release (OpenSSF Model Signing, [sign]) once it passes its check."""
    from release.pipeline.sign import sign_release

    ui = Ui(fmt, output, quiet, verbose)
    report, signature = sign_release(_load(config_path), ui.progress())
    code = ui.emit(report)
    if signature is None:
        ui.status("not signed: the staged release does not pass its check")
    else:
        ui.status(f"signed: {display_path(signature)}")
    return code


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True),
                required=False)
@click.option("--git", "git_url", help="Verify the release at --tag of this git remote.")
@click.option("--tag", help="The tag of --git to verify.")
@click.option("--hub", "hub_repo", help="Verify the release at --revision of this Hub repo.")
@click.option("--revision", help="The revision (tag) of --hub to verify.")
@click.option("--endpoint", help="A Hub endpoint other than huggingface.co (a mirror).")
@click.option("--public-key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Trust signatures of this public key (method key).")
@click.option("--certificate-chain", type=click.Path(path_type=Path, dir_okay=False,
              exists=True), multiple=True,
              help="Trust signing certificates that chain to these (method certificate).")
@click.option("--identity", help="Trust this Sigstore identity (with --issuer).")
@click.option("--issuer", help="The OIDC issuer of --identity (Sigstore).")
@format_options
def verify(directory: Path | None, git_url: str | None, tag: str | None,
           hub_repo: str | None, revision: str | None, endpoint: str | None,
           public_key: Path | None, certificate_chain: tuple[Path, ...],
           identity: str | None, issuer: str | None, fmt: str, output: Path | None,
           quiet: bool, verbose: bool) -> int:
    """Verify a release as a downstream user: its signature and every file it covers, here
    (DIRECTORY), on a git remote (--git URL --tag TAG) or on the Hub (--hub REPO --revision
    TAG). Names each file that differs from what was signed."""
    from release.pipeline.sign import Source, verify_release
    from release.signature import Trust

    given = [x for x in (directory, git_url, hub_repo) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give one of DIRECTORY, --git URL --tag TAG, or --hub REPO "
                               "--revision TAG")
    if (git_url is None) != (tag is None) or (hub_repo is None) != (revision is None):
        raise click.UsageError("--git needs --tag and --hub needs --revision")
    ui = Ui(fmt, output, quiet, verbose)
    source = Source(directory, git_url, tag, hub_repo, revision, endpoint)
    trust = Trust(public_key, certificate_chain, identity, issuer)
    report = verify_release(source, trust, ui.progress())
    code = ui.emit(report)
    ui.status(f"{'verified' if report.passed else 'NOT verified'}: {source.describe()}")
    return code


@cli.command()
@config_option
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the card here instead of stdout.")
@quiet_options
def card(config_path: Path | None, output: Path | None, quiet: bool, verbose: bool) -> int:
    """Render the model card alone (the README.md that prepare stages)."""
    from release.pipeline.prepare import render_card

    ui = Ui(output=output, quiet=quiet, verbose=verbose)
    result = render_card(_load(config_path), ui.progress())
    if output is not None:
        write_atomic(output, result.text)
        ui.status(f"card written to {display_path(output)}")
    else:
        click.echo(result.text, nl=False)
    if result.staged is not None:
        ui.status(f"the card of {display_path(result.staged)}, staged from this config and "
                  "commit")
    shown = [f"{f.effective_severity.value} {f.rule.id} {printable(f.path or '(config)')}  "
             f"{printable(f.message)}" for f in result.findings]
    if result.failing:  # on stderr even with -q: the card is not one to publish
        click.echo("\n".join([*shown, "FAIL  this release fails the gate; `release prepare` "
                              "gives the whole report"]), err=True)
    return EXIT_GATE_FAILED if result.failing else EXIT_PASSED


@cli.command()
@common_options
@baseline_option
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where the model runs (default [checks.memorization].device).")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]),
              help="Weights dtype (default [checks.memorization].dtype).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Samples per forward pass.")
def audit(config_path: Path | None, fmt: str, output: Path | None, quiet: bool, verbose: bool,
          baseline_path: Path | None, device: str | None, dtype: str | None,
          batch_size: int | None) -> int:
    """Memorisation audit: does the model reproduce training records from their first tokens,
    write training text or sensitive values unprompted, or rank planted canaries high?"""
    from release.audit.run import AuditOptions, audit_report
    from release.baseline import baseline_for

    ui = Ui(fmt, output, quiet, verbose)
    config = _load(config_path)
    settings = config.checks.memorization
    options = AuditOptions(device or settings.device, dtype or settings.dtype,
                           batch_size or settings.batch_size)
    result, report = audit_report(config, options, baseline=baseline_for(config, baseline_path),
                                  progress=ui.progress())
    ui.status(audit_line(result.summary))
    return ui.emit(report)


def audit_line(summary: MemorizationSummary) -> str:
    """The audit's numbers in one line: the sample and the rate, and the named records and
    canaries, which the rate leaves out but the gate does not."""
    about = "" if summary.population_exact else "about "
    line = (f"audited {summary.samples} of {about}{summary.population} distinct records: "
            f"{summary.extractable} extractable (rate {summary.rate})")
    if summary.named_records:
        line += f"; named records: {summary.extractable_named} of {summary.named_records}"
    if summary.canaries:
        line += f"; canaries: {summary.extractable_canaries} of {summary.canaries}"
    line += (f"; {summary.rechecked_with_generate} near-ties re-checked with generate, "
             f"{summary.too_short} too short")
    extra = [summary.untargeted.describe() if summary.untargeted else None,
             summary.describe_exposures()]
    return "\n".join([line, *(e for e in extra if e)])


@cli.group()
def index() -> None:
    """The keyed fingerprint index of the confidential training data."""


@index.command("build")
@config_option
@click.option("--engine", type=click.Choice(["local", "dask"]), default=None,
              help="Where the build runs (default: [data].engine, local): this process, or a "
                   "Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="The Dask scheduler (tcp://HOST:PORT; default: [data].scheduler, else a "
                   "LocalCluster on this machine).")
@quiet_options
def index_build(config_path: Path | None, engine: str | None, scheduler: str | None,
                quiet: bool, verbose: bool) -> int:
    """Build the index from [data].sources (where the data lives)."""
    from release.fingerprint.keys import key_created_note
    from release.fingerprint.service import build_from_config, build_notes

    ui = Ui(quiet=quiet, verbose=verbose)
    config = _load(config_path)
    built = build_from_config(config, ui.progress(), engine=engine, scheduler=scheduler)
    if built.key_created:
        ui.status(key_created_note(config.data.key_file))
    ui.status(f"indexed {built.meta.records} records ({built.meta.text_bytes} bytes of text) "
              f"into {display_path(config.data.index)} ({built.size} bytes)")
    ui.notes(build_notes(config.data))
    return EXIT_PASSED


@index.command("merge")
@click.argument("indexes", nargs=-1, required=True,
                type=click.Path(path_type=Path, file_okay=False))
@click.option("-o", "--output", "target", required=True, type=click.Path(path_type=Path),
              help="The folder to write the merged index to.")
@config_option
@quiet_options
def index_merge(indexes: tuple[Path, ...], target: Path, config_path: Path | None,
                quiet: bool, verbose: bool) -> int:
    """Merge indexes built with the same key and [checks] (a later delivery of data indexed
    on its own) into one, without reading their sources."""
    from release.fingerprint.service import merge_from_config

    if len(indexes) < 2:
        raise UsageError("give at least two indexes to merge")
    ui = Ui(quiet=quiet, verbose=verbose)
    built = merge_from_config(_load(config_path), list(indexes), target, ui.progress())
    ui.status(f"merged {len(indexes)} indexes ({built.meta.records} records) into "
              f"{display_path(target)} ({built.size} bytes)")
    return EXIT_PASSED


@index.command("info")
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def index_info(config_path: Path | None, fmt: str) -> int:
    """Print the index's size, record count and parameters (no key needed)."""
    from release.fingerprint.service import describe_index

    info = describe_index(_load(config_path))
    if fmt == "json":
        click.echo(json.dumps(info.to_dict(), indent=2))
        return EXIT_PASSED
    meta, p = info.meta, info.meta.params
    click.echo(f"index      {info.path} ({info.size} bytes, "
               f"{info.bytes_per_text_byte} per byte of indexed text)")
    click.echo(f"records    {meta.records} ({meta.text_bytes} bytes of text, "
               f"{meta.sensitive} sensitive values)")
    click.echo(f"grams      {meta.grams} stored: every {p.stride}th {p.gram_words}-word gram, "
               f"{p.fingerprint_bits}-bit fingerprints, {p.check_bits} check bits per "
               f"neighbouring word")
    click.echo(f"guarantee  every shared run of >= {p.min_match_words} words is found; "
               f"sensitive values of >= {p.min_sensitive_chars} characters" if meta.text_bytes
               else "guarantee  none: the index holds no text, so no run of it can be found")
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
                "description": r.description, "acceptable": r.acceptable} for r in ALL_RULES]
    return _listing(entries, fmt, lambda e: (
        f"{e['id']}  {e['name']:<26} {e['severity']:<8} {e['description']}"))


@cli.command()
@click.argument("fingerprints", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why this finding is acceptable.")
@click.option("--by", "accepted_by", required=True, help="Who accepts it.")
@click.option("--expires", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date (YYYY-MM-DD) after which the finding fails again.")
@config_option
@baseline_option
@quiet_options
def accept(fingerprints: Sequence[str], reason: str, accepted_by: str, expires: dt.datetime,
           config_path: Path | None, baseline_path: Path | None, quiet: bool,
           verbose: bool) -> int:
    """Accept findings by fingerprint into the baseline file, with a reason and an expiry."""
    from release.pipeline.accept import accept_findings

    ui = Ui(quiet=quiet, verbose=verbose)
    accepted = accept_findings(_load(config_path), fingerprints, reason=reason, by=accepted_by,
                               expires=expires.date(), baseline_path=baseline_path)
    ui.notes([f"accepted {f.rule.id} {f.path or '(config)'} until {expires.date().isoformat()}"
              for f in accepted.findings])
    ui.status(f"baseline {display_path(accepted.path)}")
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


# faults of the machine a user can act on; their messages quote no data, only a path
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EMFILE,
                                errno.ENFILE, errno.ENOMEM})


def _environment_error(exc: OSError, verbose: bool) -> int:
    """A full disk or a read-only file system is said as such (exit 3); any other OSError
    that reaches here is an internal error."""
    if exc.errno not in ENVIRONMENT_ERRNOS:
        _internal_error(exc, verbose)
        return EXIT_TOOL_FAILED
    where = f" writing {printable(display_path(exc.filename))}" if exc.filename else ""
    click.echo(f"release: error: {os.strerror(exc.errno or 0)}{where}; nothing was left "
               "half-written: free the space or fix the file system and run again", err=True)
    return EXIT_TOOL_FAILED


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
    except ReleaseError as exc:  # control characters of a name or key shown as escapes
        click.echo(f"release: error: {printable(str(exc))}", err=True)
        code = exc.exit_code
    except OSError as exc:
        code = _environment_error(exc, verbose)
    except KeyboardInterrupt:
        click.echo("release: interrupted; nothing was left half-written", err=True)
        code = 130
    except Exception as exc:
        _internal_error(exc, verbose)
        code = EXIT_TOOL_FAILED
    sys.exit(code if isinstance(code, int) else EXIT_PASSED)
