"""Errors a planner can act on.

Every failure caused by the user's files is an :class:`InputError` that names the file,
the field (or row) and the fix; the CLI prints it in one line and exits with code 2.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_NO_SOLUTION = 4


class LandallocError(Exception):
    """Base of every error the CLI turns into a message instead of a traceback."""

    exit_code = 1


class InputError(LandallocError):
    """Bad input: a file, a row or field in it, and what to do about it."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, file: str | None, field: str | None, message: str, fix: str | None = None):
        self.file, self.field, self.message, self.fix = file, field, message, fix
        super().__init__(self.render())

    def render(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        text = ": ".join(parts + [self.message])
        return f"{text} (fix: {self.fix})" if self.fix else text


class SolverUnavailable(LandallocError):
    """The requested solver cannot run here; never replaced silently by another."""

    exit_code = EXIT_BAD_INPUT


class SolverFailure(LandallocError):
    """The solver crashed or returned something we cannot trust."""

    exit_code = EXIT_NO_SOLUTION
