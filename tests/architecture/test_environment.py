"""Only the CLI entry reads the process environment; everything else is handed a Settings.

mcp_server/settings.py parses a mapping it is given (`Settings.from_environ`), and mcp_server/cli.py
hands it `os.environ` once, in `main()`. Checked by reading every product module's syntax tree,
so a new `os.environ.get(...)` elsewhere fails the suite.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["mcp_server", "chat_ui", "tools", "domain", "db", "policies"]
READERS = {"os.environ", "os.environb", "os.getenv", "os.getenvb", "os.putenv", "os.unsetenv"}
ENTRY = "mcp_server/cli.py"


def _reads(path: Path) -> list[str]:
    """Where `path` touches the process environment: `os.environ`, `os.getenv`, `from os import environ`..."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            name = f"{node.value.id}.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            names = [f"os.{alias.name}" for alias in node.names]
            name = next((n for n in names if n in READERS), "")
        else:
            continue
        if name in READERS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return found


def _product_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_no_product_module_but_the_cli_entry_reads_the_environment():
    reads = [r for p in _product_modules() if str(p.relative_to(ROOT)) != ENTRY for r in _reads(p)]
    assert not reads, "read the setting in mcp_server/settings.py and hand it down instead:\n" + "\n".join(reads)


def test_the_cli_entry_reads_it_once_to_build_the_settings():
    assert [r.split()[-1] for r in _reads(ROOT / ENTRY)] == ["os.environ"]
    assert "Settings.from_environ(os.environ)" in (ROOT / ENTRY).read_text()
