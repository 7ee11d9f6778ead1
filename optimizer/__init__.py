"""landalloc engine: scenario → instance → compile → solve → decode → verify."""

__version__ = "0.1.0"
