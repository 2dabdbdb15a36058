"""release: package a model trained on confidential data for open publication."""

__version__ = "0.1.0"
TOOL_NAME = "release"
