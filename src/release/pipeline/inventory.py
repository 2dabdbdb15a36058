"""What would ship: model and code files with release path and kind; links never followed out."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from release import rules
from release.config import CodeSettings, Config, DataSettings, ModelSettings
from release.errors import ConfigError, InputError, UsageError, display_path
from release.findings import Finding
from release.fingerprint.keys import KEY_ENV
from release.lock import state_folder
from release.pipeline.globs import matches_any
from release.pipeline.kinds import classify_kind
from release.pipeline.manifest import (
    AIBOM_NAME,
    MANIFEST_NAME,
    PLOT_NAME,
    SIGNATURE_NAME,
    STAGED_REPORT_NAME,
)
from release.pipeline.training_state import names_state, state_pattern

ROTATE_KEY_ADVICE = (
    f"the fingerprint index or its secret key is in git, so its history holds them: untrack it "
    f"(git rm --cached, and list /.release/ in .gitignore), then rotate the key: delete the key "
    f"file, run `release index build` (it makes a new key and a new index), and replace the "
    f"{KEY_ENV} secret of CI with the new key")
RESERVED_PATHS = frozenset({MANIFEST_NAME, STAGED_REPORT_NAME, "NOTICE", "REUSE.toml",
                            PLOT_NAME, SIGNATURE_NAME, AIBOM_NAME})
RESERVED_FOLDERS = ("LICENSES/",)

@dataclass(frozen=True)
class Item:
    """One file that would ship, before it is read; `problem` set when it must not be read."""

    path: str
    source: Path
    kind: str
    origin: str  # "model" or "code"
    problem: Finding | None = None

    @property
    def source_display(self) -> str:
        return display_path(self.source)


@dataclass(frozen=True)
class GitInfo:
    root: Path
    commit: str | None
    branch: str | None
    dirty: frozenset[str]  # release paths of shipped code files that differ from HEAD


@dataclass(frozen=True)
class LeftOut:
    """A file of the model folder that does not ship, and why: `training-state` (a built-in
    pattern) or `config` ([model].include/exclude)."""

    path: str
    reason: str


@dataclass
class Inventory:
    items: list[Item] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    git: GitInfo | None = None
    left_out: list[LeftOut] = field(default_factory=list)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _name_problem(path: Path, release_path: str) -> Finding | None:
    """A finding when the name cannot ship: not UTF-8 (git, the Hub and REUSE need it), or
    with control characters (a newline breaks REUSE.toml and forges lines of text output)."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return Finding(rules.BAD_FILE_NAME, release_path,
                       "file name is not valid UTF-8; rename it (release paths must be UTF-8)",
                       basis="utf-8")
    if _CONTROL.search(release_path):
        return Finding(rules.BAD_FILE_NAME, release_path,
                       "file name holds control characters (a newline, a tab, an escape); "
                       "rename it", basis="control")
    return None


def _file_name(release_path: str) -> str:
    return release_path.rsplit("/", 1)[-1]


def _release_path(relative: Path) -> str:
    """A release path, printable even when the name is not UTF-8 (then it cannot ship)."""
    return display_path(relative.as_posix())


def _walk(root: Path, skip: Iterable[Path]) -> Iterator[Path]:
    """Every non-directory entry under root, sorted, without descending into `skip` or .git
    (compared as real paths, however the config spelled them)."""
    skip_set = {p.absolute() for p in skip} | {p.resolve() for p in skip}

    def on_error(exc: OSError) -> None:
        raise InputError(f"cannot list folder: {exc.strerror}", path=exc.filename or root)

    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=False):
        here = Path(folder)
        kept = []
        for d in sorted(dirs):
            sub = here / d
            if d == ".git" or sub.absolute() in skip_set or sub.resolve() in skip_set:
                continue
            if sub.is_symlink():
                files.append(d)  # judged like any other link
                continue
            kept.append(d)
        dirs[:] = kept
        for name in sorted(files):
            if (here / name).absolute() not in skip_set:
                yield here / name


def _judge(source: Path, tree_root: Path, release_path: str) -> Finding | None:
    """A finding when `source` must not be read: a link leaving its tree, or a special file."""
    try:
        info = source.lstat()
    except FileNotFoundError:
        raise InputError("vanished while the release was being inventoried", path=source) from None
    except PermissionError:
        return Finding(rules.UNREADABLE_FILE, release_path, "cannot be read (permission denied)")
    if stat.S_ISLNK(info.st_mode):
        target_text = os.readlink(source)
        try:
            target = source.resolve(strict=True)
        except (FileNotFoundError, RuntimeError, OSError):
            return Finding(rules.SYMLINK_OUTSIDE, release_path,
                           "symlink is broken or loops; it is not followed", basis="broken")
        real_root = tree_root.resolve()
        if target != real_root and real_root not in target.parents:
            outside = "absolute" if os.path.isabs(target_text) else "relative"
            return Finding(
                rules.SYMLINK_OUTSIDE, release_path,
                f"symlink points outside its tree ({outside} target); it is not followed — copy "
                "the file into the tree if it should ship",
                evidence={"target_sha256": _digest_text(str(target))}, basis="outside",
            )
        if target.is_dir():
            return Finding(rules.DIRECTORY_SYMLINK, release_path,
                           "symlink to a folder inside the tree; not followed")
        info = target.stat()
    if stat.S_ISREG(info.st_mode):
        return None
    what = ("device file" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "FIFO" if stat.S_ISFIFO(info.st_mode)
            else "socket" if stat.S_ISSOCK(info.st_mode) else "special file")
    return Finding(rules.SPECIAL_FILE, release_path, f"is a {what}; only regular files can ship",
                   basis=what)


def _digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _require_folder(path: Path, config_path: Path, key: str) -> None:
    if not path.exists():
        raise ConfigError(config_path, key, f"{display_path(path)} does not exist")
    if not path.is_dir():
        raise ConfigError(config_path, key, f"{display_path(path)} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InputError("folder is not readable", path=path)


def _never_code(config: Config) -> list[Path]:
    """The staged output, the model folder and release's own state beside the config (the
    lock, scratch clones): never shipped as code, even when tracked."""
    return [config.release.out.absolute(), config.model.path.absolute(),
            state_folder(config.root).absolute()]


def _index_and_key(data: DataSettings) -> list[Path]:
    """The fingerprint index and its key: skipped when walking, a finding when tracked by git."""
    return [data.index.absolute(), data.key_file.absolute()]


def _left_out(relative: str, model: ModelSettings) -> LeftOut | None:
    """Why a file of the model folder does not ship, if it does not: [model].exclude, not in
    [model].include, or training state that no include pattern names."""
    if (model.include and not matches_any(relative, model.include)) or \
            matches_any(relative, model.exclude):
        return LeftOut(relative, "config")
    state = state_pattern(relative)
    if state is None or any(names_state(p, state) and matches_any(relative, [p])
                            for p in model.include):
        return None
    return LeftOut(relative, "training-state")


def _model_items(model: ModelSettings, skip: list[Path], config_path: Path
                 ) -> tuple[list[Item], list[LeftOut]]:
    """Every file of the model folder that ships, and those left out; never those of `skip`
    (release's own output, the index and its key, wherever the config put them)."""
    root = model.path
    _require_folder(root, config_path, "model.path")
    items, left_out = [], []
    for source in _walk(root, skip=skip):
        release_path = _release_path(source.relative_to(root))
        leaving = _left_out(release_path, model)
        if leaving is not None:
            left_out.append(leaving)
            continue
        problem = _name_problem(source, release_path) or _judge(source, root, release_path)
        items.append(Item(release_path, source, classify_kind(_file_name(release_path)), "model",
                          problem))
    if not items:
        why = (f"all {len(left_out)} of its files are left out (training state, or "
               "[model].include/exclude)" if left_out else "it holds no files")
        raise ConfigError(config_path, "model.path",
                          f"nothing of {display_path(root)} would ship: {why}; a release needs "
                          "a model")
    return items, left_out


def _git_repo(path: Path) -> object | None:
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def _tracked_files(repo: object, code_root: Path) -> list[Path]:
    import git

    assert isinstance(repo, git.Repo)
    top = Path(repo.working_tree_dir or code_root).resolve()
    try:
        raw = repo.git.ls_files("-z", "--", str(code_root.resolve()), stdout_as_string=False)
    except git.GitCommandError as exc:
        raise InputError(f"git ls-files failed: {exc.stderr.strip()}", path=code_root) from None
    assert isinstance(raw, bytes)
    return [top / os.fsdecode(name) for name in raw.split(b"\0") if name]


def _git_info(repo: object, code_root: Path, shipped: dict[str, str]) -> GitInfo:
    import git

    assert isinstance(repo, git.Repo)
    top = Path(repo.working_tree_dir or code_root).resolve()
    try:
        commit = repo.head.commit.hexsha
    except ValueError:  # no commits yet
        commit = None
    branch = None if repo.head.is_detached else repo.active_branch.name
    dirty: set[str] = set()
    if commit is not None:
        raw = repo.git.diff("--name-only", "-z", "HEAD", "--", str(code_root.resolve()),
                            stdout_as_string=False)
        assert isinstance(raw, bytes)
        changed = {(top / os.fsdecode(n)).as_posix() for n in raw.split(b"\0") if n}
        dirty = {path for source, path in shipped.items() if source in changed}
    return GitInfo(root=top, commit=commit, branch=branch, dirty=frozenset(dirty))


def _code_items(code: CodeSettings, config: Config) -> tuple[list[Item], GitInfo | None]:
    root = code.path
    _require_folder(root, config.path, "code.path")
    repo = _git_repo(root)
    never = _never_code(config)
    if repo is not None:
        real_root = root.resolve()
        candidates = [p for p in _tracked_files(repo, root) if real_root in p.parents]
        # tracked paths come back through the repository's real path
        candidates = [root / p.relative_to(real_root) for p in candidates]
    else:
        candidates = list(_walk(root, skip=never + _index_and_key(config.data)))
    items: list[Item] = []
    for source in candidates:
        relative = source.relative_to(root).as_posix()
        if code.include and not matches_any(relative, code.include):
            continue
        if matches_any(relative, code.exclude):
            continue
        absolute = source.absolute()
        if any(absolute == p or p in absolute.parents for p in never):
            continue
        shown = _release_path(source.relative_to(root))
        release_path = f"{code.dest}/{shown}" if code.dest else shown
        problem = _name_problem(source, release_path) or _judge(source, root, release_path)
        if problem is None and _is_index_or_key(absolute, config.data):
            problem = Finding(rules.SECRET_SHIPPED, release_path, ROTATE_KEY_ADVICE)
        items.append(Item(release_path, source, classify_kind(_file_name(release_path)), "code",
                          problem))
    git_info = None
    if repo is not None:
        shipped = {(i.source.resolve()).as_posix(): i.path for i in items if i.problem is None}
        git_info = _git_info(repo, root, shipped)
    return items, git_info


def _is_index_or_key(path: Path, data: DataSettings) -> bool:
    return any(path == p or p in path.parents for p in _index_and_key(data))


def _collisions(items: list[Item]) -> list[Finding]:
    findings = []
    seen: dict[str, Item] = {}
    folded: dict[str, str] = {}
    for item in items:
        if item.path in RESERVED_PATHS or item.path.startswith(RESERVED_FOLDERS):
            findings.append(Finding(rules.PATH_COLLISION, item.path,
                                    "this release path is written by `release` itself"))
        elif item.path in seen:
            findings.append(Finding(
                rules.PATH_COLLISION, item.path,
                f"shipped from both the {seen[item.path].origin} and the {item.origin} folder",
                basis=item.origin))
        elif item.path.casefold() in folded:
            findings.append(Finding(
                rules.PATH_COLLISION, item.path,
                "differs only in letter case from another shipped path (breaks on macOS/Windows)",
                basis="case"))
        seen.setdefault(item.path, item)
        folded.setdefault(item.path.casefold(), item.path)
    return findings


def build_inventory(config: Config) -> Inventory:
    """List every file that would ship; problems found without reading files become findings."""
    inventory = Inventory()
    model_items, inventory.left_out = _model_items(
        config.model, [config.release.out, state_folder(config.root),
                       *_index_and_key(config.data)], config.path)
    inventory.items.extend(model_items)
    if config.code is not None:
        code_items, inventory.git = _code_items(config.code, config)
        if not code_items:
            raise ConfigError(
                config.path, "code.path",
                f"no files selected under {display_path(config.code.path)} (check include/"
                "exclude, and that the files are tracked by git)")
        inventory.items.extend(code_items)
    inventory.findings.extend(i.problem for i in inventory.items if i.problem is not None)
    inventory.findings.extend(_collisions(inventory.items))
    if inventory.git is not None:
        for path in sorted(inventory.git.dirty):
            inventory.findings.append(Finding(
                rules.UNCOMMITTED_CODE, path,
                "has uncommitted changes; the release would not match the recorded commit"))
    return inventory


def files_inventory(data: DataSettings, files: Iterable[Path], base: Path) -> Inventory:
    """Just the named files (a pre-commit hook's staged files), each judged like shipped code;
    paths in the report are relative to `base`, where the hook runs."""
    inventory = Inventory()
    base = base.absolute()
    for given in files:
        source = given if given.is_absolute() else base / given
        try:
            path = _release_path(source.absolute().relative_to(base))
        except ValueError:
            path = display_path(source.absolute().as_posix())
        if not source.exists() and not source.is_symlink():
            raise UsageError("no such file", path=given)
        if source.is_dir() and not source.is_symlink():
            raise UsageError("is a folder; --files takes files", path=given)
        problem = _name_problem(source, path) or _judge(source, base, path)
        if problem is None and _is_index_or_key(source.absolute(), data):
            problem = Finding(rules.SECRET_SHIPPED, path, ROTATE_KEY_ADVICE)
        inventory.items.append(Item(path, source, classify_kind(_file_name(path)), "code",
                                    problem))
    inventory.findings.extend(i.problem for i in inventory.items if i.problem is not None)
    return inventory


def source_commit(config: Config) -> str | None:
    """The commit a release of `config` is built from now: the one checked out where its
    code (or, without [code], its config) is."""
    return head_commit(config.code.path if config.code is not None else config.root)


def head_commit(path: Path) -> str | None:
    """The commit checked out in the git repository holding `path`, if there is one."""
    repo = _git_repo(path)
    if repo is None:
        return None
    import git

    assert isinstance(repo, git.Repo)
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None
