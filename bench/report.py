"""The report `sis bench` writes (docs/benchmarks.md) and prints: sections of prose and tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table as RichTable


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    title: str = ""

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])


@dataclass
class Section:
    """One numbered item of the issue: what was measured, how, the tables, and what they say."""

    key: str
    title: str
    intro: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, *headers: str, title: str = "") -> Table:
        made = Table(list(headers), title=title)
        self.tables.append(made)
        return made


@dataclass
class Report:
    title: str
    preamble: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for paragraph in self.preamble:
            lines += [paragraph, ""]
        lines += ["## The run", "", "| what | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in self.facts]
        lines.append("")
        for section in self.sections:
            lines += [f"## {section.title}", ""]
            for paragraph in section.intro:
                lines += [paragraph, ""]
            for table in section.tables:
                if table.title:
                    lines += [f"**{table.title}**", ""]
                lines.append("| " + " | ".join(table.headers) + " |")
                lines.append("|" + "---|" * len(table.headers))
                lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
                lines.append("")
            for paragraph in section.notes:
                lines += [paragraph, ""]
        return "\n".join(lines).rstrip() + "\n"

    def print(self, console: Console) -> None:
        for section in self.sections:
            console.rule(section.title)
            for table in section.tables:
                shown = RichTable(title=table.title or None, show_lines=False)
                for header in table.headers:
                    shown.add_column(header)
                for row in table.rows:
                    shown.add_row(*row)
                console.print(shown)
            for note in section.notes:
                console.print(note, highlight=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def ms(value: float) -> str:
    """Milliseconds for a table cell: three significant figures."""
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def ratio(value: float, baseline: float) -> str:
    if math.isnan(value) or math.isnan(baseline) or baseline == 0:
        return "n/a"
    share = value / baseline
    return f"1/{1 / share:,.0f}" if 0 < share < 0.1 else f"{share:.2f}×"
