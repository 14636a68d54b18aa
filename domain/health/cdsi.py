"""The CDC CDSi CVX→antigen and vaccine-group→antigen maps, and CDSi-style age arithmetic.

The map ships as data/cdsi_4_64.json, derived from CDSi 4.64 `ScheduleSupportingData.xml`
(redistributed by fhir-fli/cicada, MIT) by `build_map_from_xml`. To adopt a newer CDSi
release, validate its XML against the XSD, then regenerate the JSON:

    python -m domain.health.cdsi path/to/ScheduleSupportingData.xml [out.json]

(and bump CDSI_VERSION, since the XML itself carries no version).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CDSI_VERSION = "4.64"
MAP_PATH = Path(__file__).parent / "data" / "cdsi_4_64.json"

_AGE_TERM = re.compile(r"([+-]?)\s*(\d+)\s*(year|month|week|day)s?", re.IGNORECASE)


@functools.cache
def parse_age(text: str) -> tuple[tuple[int, str], ...]:
    """CDSi age text ("4 years", "4 years - 4 days") as signed (amount, unit) terms."""
    terms = tuple((-int(n) if sign == "-" else int(n), unit.lower()) for sign, n, unit in _AGE_TERM.findall(text))
    if not terms or _AGE_TERM.sub("", text).strip():
        raise ValueError(f"not an age or duration: {text!r}")
    return terms


# Not domain.calendar.add_months: that clamps (Jan 31 + 1 month -> Feb 28), as school dates want;
# CDSi ages roll over to the next month instead (-> Mar 1), as the CDSi logic specification says.
def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    try:
        return dt.date(year, month + 1, day.day)
    except ValueError:
        # CDSi: a date that does not exist (31 April, 29 February) rolls to the 1st of the next month.
        return dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)


# Pure and called for every dose of every student in a report: remembered.
@functools.lru_cache(maxsize=65_536)
def add_age(day: dt.date, age: str) -> dt.date:
    """`day` plus a CDSi age or duration; years and months first, then weeks and days."""
    terms = parse_age(age)
    months = sum(n * (12 if unit == "year" else 1) for n, unit in terms if unit in ("year", "month"))
    days = sum(n * (7 if unit == "week" else 1) for n, unit in terms if unit in ("week", "day"))
    return _add_months(day, months) + dt.timedelta(days=days)


def subtract_age(day: dt.date, age: str) -> dt.date:
    """`day` minus a CDSi duration ("5 years" before the as-of date)."""
    terms = parse_age(age)
    negated = " ".join(f"{'-' if n > 0 else '+'} {abs(n)} {unit}" for n, unit in terms)
    return add_age(day, negated)


@functools.lru_cache(maxsize=4096)
def normalise_cvx(code: str) -> str:
    """A CVX code as CDSi spells it: digits zero-padded to two ("3" -> "03"), other text trimmed."""
    text = code.strip()
    return str(int(text)).zfill(2) if text.isdigit() else text


@dataclass(frozen=True)
class Association:
    antigen: str
    begin_age: str | None
    end_age: str | None

    def applies(self, birth_on: dt.date, given_on: dt.date) -> bool:
        """True when a dose given on `given_on` falls in this association's age window (end exclusive)."""
        if self.begin_age and given_on < add_age(birth_on, self.begin_age):
            return False
        return not (self.end_age and given_on >= add_age(birth_on, self.end_age))


@dataclass(frozen=True)
class CdsiMap:
    version: str
    cvx: Mapping[str, tuple[Association, ...]]
    descriptions: Mapping[str, str]
    groups: Mapping[str, tuple[str, ...]]
    full_group: Mapping[str, bool]

    def is_known_cvx(self, code: str) -> bool:
        """True when the (normalised) code is in the CDSi map."""
        return normalise_cvx(code) in self.cvx

    def cvx_antigens(self, code: str, birth_on: dt.date, given_on: dt.date) -> tuple[str, ...] | None:
        """Antigens a dose of `code` counts for at the student's age that day; None for an unknown code."""
        associations = self.cvx.get(normalise_cvx(code))
        if associations is None:
            return None
        return tuple(a.antigen for a in associations if a.applies(birth_on, given_on))

    def all_cvx_antigens(self, code: str) -> tuple[str, ...] | None:
        """Every antigen a code is associated with, at any age; None for an unknown code."""
        associations = self.cvx.get(normalise_cvx(code))
        return None if associations is None else tuple(dict.fromkeys(a.antigen for a in associations))

    def group_of_antigen(self, antigen: str) -> str | None:
        """The vaccine group an antigen belongs to."""
        for group, antigens in self.groups.items():
            if antigen in antigens:
                return group
        return None

    def primary_group_of_cvx(self, code: str) -> str | None:
        """The vaccine group of a code's first antigen (CVX 110 -> DTaP/Tdap/Td), for storing a record."""
        antigens = self.all_cvx_antigens(code)
        return self.group_of_antigen(antigens[0]) if antigens else None

    def canonical_group(self, name: str) -> str | None:
        """The CDSi spelling of a vaccine group name, matched case-insensitively."""
        return self._groups_by_lower.get(name.strip().lower())

    @functools.cached_property
    def derived(self) -> dict[Any, Any]:
        """A cache for what callers work out from this map alone (the rules engine's record plans)."""
        return {}

    @functools.cached_property
    def _groups_by_lower(self) -> dict[str, str]:
        return {g.lower(): g for g in self.groups}


def _text(node: ET.Element, tag: str) -> str | None:
    value = node.findtext(tag)
    return value.strip() if value and value.strip() else None


def build_map_from_xml(path: Path, version: str = CDSI_VERSION) -> dict[str, Any]:
    """The compact JSON document (as a dict) for a CDSi ScheduleSupportingData.xml file."""
    root = ET.parse(path).getroot()
    cvx: dict[str, Any] = {}
    for node in root.iterfind("cvxToAntigenMap/cvxMap"):
        code = normalise_cvx(node.findtext("cvx") or "")
        cvx[code] = {
            "short_description": _text(node, "shortDescription") or "",
            "associations": [
                {
                    "antigen": _text(a, "antigen"),
                    "begin_age": _text(a, "associationBeginAge"),
                    "end_age": _text(a, "associationEndAge"),
                }
                for a in node.iterfind("association")
            ],
        }
    full = {
        _text(g, "name"): (_text(g, "administerFullVaccineGroup") or "").lower() == "yes"
        for g in root.iterfind("vaccineGroups/vaccineGroup")
    }
    groups = {
        _text(g, "name"): {
            "antigens": [a.text.strip() for a in g.iterfind("antigen") if a.text],
            "administer_full_vaccine_group": full.get(_text(g, "name"), False),
        }
        for g in root.iterfind("vaccineGroupToAntigenMap/vaccineGroupMap")
    }
    return {"version": version, "source": "CDC CDSi ScheduleSupportingData.xml", "cvx": cvx, "groups": groups}


def map_from_document(doc: Mapping[str, Any]) -> CdsiMap:
    """A CdsiMap from the JSON document produced by `build_map_from_xml`."""
    return CdsiMap(
        version=str(doc["version"]),
        cvx={
            code: tuple(Association(a["antigen"], a["begin_age"], a["end_age"]) for a in entry["associations"])
            for code, entry in doc["cvx"].items()
        },
        descriptions={code: entry["short_description"] for code, entry in doc["cvx"].items()},
        groups={name: tuple(g["antigens"]) for name, g in doc["groups"].items()},
        full_group={name: bool(g["administer_full_vaccine_group"]) for name, g in doc["groups"].items()},
    )


@functools.cache
def load_map() -> CdsiMap:
    """The shipped CDSi map, parsed once per process."""
    return map_from_document(json.loads(MAP_PATH.read_text(encoding="utf-8")))


def write_map(xml_path: Path, out_path: Path = MAP_PATH, version: str = CDSI_VERSION) -> None:
    """Regenerate the shipped JSON from a CDSi XML file."""
    doc = build_map_from_xml(xml_path, version)
    out_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_map(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else MAP_PATH)
