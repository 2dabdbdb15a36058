"""Wheel build hook: compiles the fingerprint kernels; without a C compiler, numpy does the work."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/release/fingerprint/kernels/_kernels.c")
LIBRARY = Path("src/release/fingerprint/kernels/_kernels.so")
REQUIRE_ENV = "RELEASE_REQUIRE_NATIVE"


def compiler() -> list[str] | None:
    configured = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    command = shlex.split(configured)
    if command and shutil.which(command[0]):
        return command
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return [name]
    return None


class KernelBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        source, library = root / SOURCE, root / LIBRARY
        problem = self._compile(source, library)
        if problem is not None:
            if os.environ.get(REQUIRE_ENV) == "1":
                raise RuntimeError(problem)
            self.app.display_warning(f"{problem}; the numpy implementation will be used")
            return
        # a compiled library makes the wheel platform-specific
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install loads it from the source tree
            build_data["force_include"][str(library)] = str(LIBRARY.relative_to("src"))

    def _compile(self, source: Path, library: Path) -> str | None:
        command = compiler()
        if command is None:
            return "no C compiler found to build the fingerprint kernels"
        partial = library.with_suffix(".so.partial")
        result = subprocess.run(
            [*command, "-O3", "-std=c99", "-fPIC", "-shared", "-o", str(partial), str(source)],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            return f"compiling {SOURCE} failed: {result.stderr.strip()[:2000]}"
        os.replace(partial, library)
        return None
