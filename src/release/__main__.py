"""Entry point for `python -m release`."""

from release.cli.main import main

if __name__ == "__main__":
    main()
