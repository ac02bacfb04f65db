"""The layering, checked rather than hoped for: the simulator never imports the client (the recorder,
which needs both, lives in `client/`), and the domain imports nothing of HTTP (no Starlette, no httpx,
none of the modules that serve the wire)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WIRE = ("starlette", "httpx", "uvicorn", "mockserver.api", "mockserver.console", "mockserver.app",
        "mockserver.backend")


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def under(names: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)}


@pytest.mark.parametrize("path", sorted((ROOT / "mockserver").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_simulator_never_imports_the_client(path: Path) -> None:
    assert under(imported(path), ("client",)) == set()


@pytest.mark.parametrize("path", sorted((ROOT / "mockserver" / "domain").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_domain_knows_no_http(path: Path) -> None:
    assert under(imported(path), WIRE) == set()


# The adapters reach the domain through protocols (`domain.answers.Proxy`), given to constructors. Not
# yet for the batch core's upstream runs, which the batch-core refactoring takes up.
ADAPTERS = ("mockserver.upstream",)
NOT_YET = {"upstream_runs.py"}


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "mockserver" / "domain").rglob("*.py") if p.name not in NOT_YET),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_domain_is_given_its_adapters(path: Path) -> None:
    assert under(imported(path), ADAPTERS) == set()


def test_the_check_sees_an_import() -> None:
    assert under(imported(ROOT / "client" / "record.py"), ("client",)) >= {"client.batchfile"}
