"""`python -m auditor`: the `auditor` command, through the console script's entry point (pyproject.toml)."""

from auditor.cli import main

if __name__ == "__main__":
    main()
