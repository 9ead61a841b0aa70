"""Find, read and validate profile files: packaged models by name, or any TOML file by path."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from device_profiles.errors import Problem, ProfileError
from device_profiles.rules import profile_problems
from device_profiles.schema import UNION_TAGS, DeviceProfile

_PACKAGE_DIR = "models"
_SUFFIX = ".toml"


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the package, sorted."""
    folder = resources.files("device_profiles").joinpath(_PACKAGE_DIR)
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in folder.iterdir()
        if entry.name.endswith(_SUFFIX) and not entry.name.startswith(".")
    )


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A packaged profile by model name (``"xy-md02"``) or a profile file by path.

    Raises :class:`ProfileError` naming the file, the field path and the problem.
    """
    text, file = _read(name_or_path)
    return parse_profile(text, file)


def parse_profile(text: str, file: str) -> DeviceProfile:
    """Validate the TOML ``text`` of a profile; ``file`` only names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(file, [Problem("", f"not valid TOML: {exc}")]) from exc
    return profile_from_dict(data, file)


def profile_from_dict(data: dict[str, Any], file: str) -> DeviceProfile:
    try:
        profile = DeviceProfile.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(_path(error["loc"]), error["msg"]) for error in exc.errors()]
        raise ProfileError(file, problems) from exc
    problems = profile_problems(profile)
    if problems:
        raise ProfileError(file, problems)
    return profile


def _path(location: tuple[int | str, ...]) -> str:
    """``fields[1].scale`` from pydantic's location, without the union member's tag pydantic
    puts after ``transport`` or a field's index (``transport.serial.baud`` is
    ``transport.baud`` in the file)."""
    text = ""
    before: int | str | None = None
    previous: int | str | None = None
    for part in location:
        tagged = previous == "transport" or (isinstance(previous, int) and before == "fields")
        before, previous = previous, part
        if tagged and part in UNION_TAGS:
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _is_path(name_or_path: str | Path) -> bool:
    if isinstance(name_or_path, Path):
        return True
    return "/" in name_or_path or name_or_path.endswith(_SUFFIX)


def _read(name_or_path: str | Path) -> tuple[str, str]:
    if _is_path(name_or_path):
        path = Path(name_or_path)
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(str(path), [Problem("", f"cannot read: {exc}")]) from exc
    name = str(name_or_path)
    if name not in available_profiles():
        known = ", ".join(available_profiles())
        raise ProfileError(name, [Problem("", f"no such profile; available: {known}")])
    resource = resources.files("device_profiles").joinpath(_PACKAGE_DIR, name + _SUFFIX)
    return resource.read_text(encoding="utf-8"), f"{_PACKAGE_DIR}/{name}{_SUFFIX}"
