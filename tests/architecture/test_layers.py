"""Imports flow one way: mcp_server -> chat_ui -> tools -> domain -> db; policies serve tools.

Checked by reading every module's import statements, so a violation fails the suite the
way Polar's linter guards its authorization choke point.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["mcp_server", "chat_ui", "tools", "domain", "db", "policies"]

# package -> first-party packages it may import (itself included)
ALLOWED: dict[str, set[str]] = {
    "mcp_server": {"mcp_server", "chat_ui", "tools", "domain", "db", "policies"},
    "chat_ui": {"chat_ui", "tools", "domain", "db", "policies"},
    "tools": {"tools", "domain", "db", "policies"},
    "domain": {"domain", "db", "policies.scope"},
    "policies": {"policies", "db", "domain.errors"},
    "db": {"db"},
}
# Web, protocol, LLM and payment SDKs stay at the edges.
EDGE_ONLY = {"fastapi", "starlette", "mcp", "anthropic", "stripe", "uvicorn", "typer", "httpx", "rich"}
EDGE_PACKAGES = {"mcp_server", "chat_ui"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts or package != "db")


def _allowed(package: str, module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in ALLOWED[package])


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_flow_one_way(package):
    violations = []
    for path in _modules(package):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in PACKAGES and not _allowed(package, module):
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            if top in EDGE_ONLY and package not in EDGE_PACKAGES:
                violations.append(f"{path.relative_to(ROOT)}:{line} imports edge SDK {module}")
    assert not violations, "layering violations:\n" + "\n".join(violations)


def test_domain_services_never_commit():
    offenders = []
    for path in _modules("domain"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "commit":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "domain code must not commit (the request boundary does): " + ", ".join(offenders)
