"""The pipeline, stage by stage: inventory, read, detect, report; then stage, check."""
