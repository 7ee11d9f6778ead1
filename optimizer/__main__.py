"""`python -m optimizer …` runs the landalloc CLI (same as the `landalloc` console script)."""

from optimizer.cli import main

main()
