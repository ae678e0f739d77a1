"""Finding and running the `onnx-parity` binary.

The wheel installs the binary into the environment's scripts folder (`bin/` of a venv). A
process started from a venv's Python without activating it does not have that folder on its
PATH, so the folder next to the running interpreter is searched first, then the user scheme's
(``pip install --user``), then the PATH. ``ONNX_PARITY_BIN`` overrides all of them (a binary
built with cargo, for instance).

What this module must never do: interpret results. It returns exit code, stdout and stderr.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from .errors import BinaryNotFound, OnnxParityError

ENV_VAR = "ONNX_PARITY_BIN"
_NAME = "onnx-parity.exe" if os.name == "nt" else "onnx-parity"


def _scripts_dirs() -> List[Path]:
    dirs = []
    for scheme in (None, f"{os.name}_user"):
        try:
            path = sysconfig.get_path("scripts") if scheme is None else sysconfig.get_path(
                "scripts", scheme
            )
        except KeyError:  # a scheme this platform does not have
            continue
        if path:
            dirs.append(Path(path))
    return dirs


def binary() -> Path:
    """The path of the `onnx-parity` binary this package runs.

    Order: ``$ONNX_PARITY_BIN``, the scripts folder of the running interpreter (where the wheel
    put it), the user scripts folder, the PATH. Raises `BinaryNotFound` naming every place
    searched.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override)
        if not path.is_file():
            raise BinaryNotFound(f"${ENV_VAR} is {override!r}, which is not a file")
        return path
    searched = []
    for folder in _scripts_dirs():
        candidate = folder / _NAME
        searched.append(str(folder))
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which(_NAME)
    if on_path:
        return Path(on_path)
    raise BinaryNotFound(
        f"{_NAME} not found in {', '.join(searched)} or on the PATH; install the wheel "
        f"(pip install onnx-parity-*.whl, or pip install . in a checkout) or set ${ENV_VAR}"
    )


@dataclass(frozen=True)
class Completed:
    command: List[str]
    exit_code: int
    stdout: str
    stderr: str


def run(args: Sequence[str], env: Optional[dict] = None) -> Completed:
    """Runs the binary with `args`; never raises on a nonzero exit (the caller decides)."""
    command = [str(binary()), *map(str, args)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            check=False,
        )
    except OSError as e:
        raise OnnxParityError(f"could not start {command[0]}: {e}") from e
    if done.returncode < 0:
        raise OnnxParityError(
            f"{command[0]} was killed by signal {-done.returncode}; stderr: "
            f"{done.stderr.strip()[-500:]}"
        )
    return Completed(command, done.returncode, done.stdout, done.stderr)


def error_line(stderr: str, exit_code: int) -> str:
    """The binary's message: its `error: ...` lines (one per problem), without the prefix."""
    lines = [ln[len("error: "):].strip() for ln in stderr.splitlines() if ln.startswith("error: ")]
    if lines:
        return "; ".join(lines)
    rest = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return rest[-1] if rest else f"exited with code {exit_code} and no message"


@functools.lru_cache(maxsize=None)
def _help(path: str, command: str) -> str:
    done = subprocess.run(
        [path, command, "--help"], capture_output=True, text=True, errors="replace", check=False
    )
    return done.stdout


def supports(command: str, flag: str) -> bool:
    """Whether this build's `command` has `flag` (read from its --help)."""
    text = _help(str(binary()), command)
    return re.search(rf"(^|\s){re.escape(flag)}[\s=<]", text) is not None


@dataclass(frozen=True)
class Version:
    """What `onnx-parity --version` says: the crate version and the git commit it was built
    from (a short hash, with ``-dirty`` when the tree had uncommitted changes, or ``unknown``
    when built outside a git checkout)."""

    version: str
    commit: str
    binary: Path

    def __str__(self) -> str:
        return f"onnx-parity {self.version} (commit {self.commit})"


def version() -> Version:
    """Runs ``onnx-parity --version`` and parses it."""
    done = run(["--version"])
    m = re.fullmatch(r"onnx-parity (\S+)(?: \(commit (\S+)\))?", done.stdout.strip())
    if done.exit_code != 0 or m is None:
        raise OnnxParityError(
            f"{done.command[0]} --version printed {done.stdout.strip()!r} (exit {done.exit_code})"
        )
    return Version(m.group(1), m.group(2) or "unknown", Path(done.command[0]))
