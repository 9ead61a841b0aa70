"""The demo's way into the console: a random password for the demo's operator user, set once
per data folder with ``retailedge cloud set-password`` and kept next to the keys."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retailedge.processes import DemoProcessError, retailedge_command

CONSOLE_FILE = "console.json"


@dataclass(frozen=True, slots=True)
class ConsoleLogin:
    url: str
    user: str
    password: str

    def line(self) -> str:
        return f"Console: {self.url} — user {self.user}, password {self.password}"

    def as_json(self) -> dict[str, str]:
        return {"url": self.url, "user": self.user, "password": self.password}


def new_password() -> str:
    """16 URL-safe random characters (96 bits): no spaces, easy to paste."""
    return secrets.token_urlsafe(12)


def stored_login(path: Path, url: str, user: str) -> ConsoleLogin | None:
    """The login kept in ``path`` for ``user``, or None when there is none (or it is unreadable,
    or for another user)."""
    try:
        loaded: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(loaded, dict) or loaded.get("user") != user:
        return None
    password = loaded.get("password")
    return ConsoleLogin(url, user, password) if isinstance(password, str) and password else None


def console_login(cloud_dir: Path, url: str, user: str) -> ConsoleLogin:
    """``user``'s console login: the one kept in ``cloud_dir``, else a new random password set
    in the cloud's database and then kept (0600). Blocking: it runs the CLI."""
    path = cloud_dir / CONSOLE_FILE
    login = stored_login(path, url, user)
    if login is not None:
        return login
    login = ConsoleLogin(url, user, new_password())
    argv = retailedge_command(
        "cloud", "set-password", "--name", user, "--password-stdin", "--data-dir", str(cloud_dir)
    )
    completed = subprocess.run(
        argv, input=login.password + "\n", capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise DemoProcessError(
            f"cloud set-password --name {user} failed with status {completed.returncode}:\n"
            f"{completed.stderr.strip()}"
        )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(json.dumps({"user": user, "password": login.password}))
    return login
