"""The keyed fingerprint index of the confidential data: normalise, hash, build, load, query."""
