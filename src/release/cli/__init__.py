"""The command line: parses, calls the library, renders, and picks the exit code."""
