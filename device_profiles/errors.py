"""The one error a profile load raises, naming the file, the field path and the problem."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a profile: ``path`` like ``fields[1].scale`` ("" for the whole file)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ProfileError(ValueError):
    """A profile that cannot be found, parsed or validated; lists every problem found."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("ProfileError needs at least one problem")
        self.file = file
        self.problems = tuple(problems)
        super().__init__(f"{file}: " + "; ".join(str(problem) for problem in problems))

    @property
    def field(self) -> str:
        """Path of the first problem."""
        return self.problems[0].path

    @property
    def problem(self) -> str:
        """Message of the first problem."""
        return self.problems[0].message
