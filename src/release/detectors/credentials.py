"""Detects files whose very name says they store credentials (the credentials in any file's
text are found with the training data, in the same pass: see detectors.leaks)."""

from __future__ import annotations

from release import rules
from release.credentials import credential_file
from release.detectors import Artifact, DetectionContext, Detector, FileDetector, register
from release.findings import Finding


class CredentialFiles(FileDetector):
    def detect(self, artifact: Artifact) -> list[Finding]:
        if not credential_file(artifact.item.path):
            return []
        return [Finding(rules.CREDENTIAL_FILE, artifact.item.path,
                        "is a credential store by its name (a token, key or password file); "
                        "it must not ship: remove it, and rotate what it held",
                        evidence={"size": artifact.size}, basis="credential-file")]


@register
def credential_files(context: DetectionContext) -> Detector | None:
    return CredentialFiles(context) if context.checks.secrets else None
