"""Cells of files people open in a spreadsheet: text a spreadsheet would run as a formula stays text.

One rule for every export (the audit CSV, the chat's CSV and Excel downloads), from OWASP's CSV
injection advice: a cell that starts with = + - @ (or a tab or carriage return) gets a leading '.
"""

from __future__ import annotations

import json
from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A CSV cell; caller-written text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    text = json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
