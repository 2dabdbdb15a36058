"""Detects safetensors files that their users' loaders would refuse: a header that does not
match its data (unknown dtypes, shapes that disagree with the bytes, offsets out of order or
past the end, metadata that is not strings), or a file named .safetensors that is not one."""

from __future__ import annotations

from release import rules
from release.detectors import Artifact, FileDetector, register
from release.extract.safetensors import header_problems, read_header
from release.extract.sniff import magic_format
from release.findings import Finding


@register
class SafetensorsHeaders(FileDetector):
    def detect(self, artifact: Artifact) -> list[Finding]:
        named = artifact.item.path.lower().endswith(".safetensors")
        if magic_format(artifact.head, artifact.tail) != "safetensors" and not named:
            return []
        try:
            with artifact.item.source.open("rb") as handle:
                problems = header_problems(read_header(handle, artifact.size), artifact.size)
        except OSError as exc:
            return [Finding(rules.UNREADABLE_FILE, artifact.item.path,
                            f"read failed ({exc.strerror})", basis="safetensors")]
        if not problems:
            return []
        return [Finding(rules.MALFORMED_FILE, artifact.item.path,
                        f"is not a valid safetensors file ({problems[0]}"
                        + (f", and {len(problems) - 1} more problems" if len(problems) > 1
                           else "") + "); the safetensors loader refuses it",
                        evidence={"format": "safetensors", "problems": len(problems)},
                        basis="safetensors")]
