"""Normalising a staff question: straight quotes, expanded contractions, number words as digits.

Pure and deterministic, like everything the offline planner reads, so it is tested without a database.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_CONTRACTIONS = (
    (r"\bwhat's\b", "what is"),
    (r"\bwho's\b", "who is"),
    (r"\bhow's\b", "how is"),
    (r"\bwhere's\b", "where is"),
    (r"\bthat's\b", "that is"),
    (r"\bthere's\b", "there is"),
    (r"\bit's\b", "it is"),
    (r"\blet's\b", "let us"),
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "cannot"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'ve\b", " have"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (r"'s\b", ""),
    (r"s'(?=\s|$)", "s"),
)
_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "(?:" + "|".join(sorted([*_UNITS, *_SCALES], key=len, reverse=True)) + ")"
_NUMBER_SPAN = re.compile(
    rf"\b(?:an?\s+(?=(?:hundred|thousand|million)\b))?{_NUMBER_WORD}(?:(?:\s+and\s+|[\s-]+){_NUMBER_WORD})*\b"
)
ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}


def _number_value(words: str) -> int:
    """The value of a run of number words ('two thousand five hundred' -> 2500)."""
    total, current = 0, 0
    for word in re.findall(r"[a-z]+", words):
        if word in _UNITS:
            current += _UNITS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def words_to_numbers(text: str) -> str:
    """'a thousand dollars' -> '1000 dollars', 'last six months' -> 'last 6 months' (lower-case input)."""
    return _NUMBER_SPAN.sub(lambda m: str(_number_value(m.group(0))), text)


def clean(text: str) -> str:
    """Unicode-normalised text with straight quotes and single spaces, case kept (for names)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return re.sub(r"\s+", " ", text).strip()


def normalise(text: str) -> str:
    """Lower-case text with contractions expanded, number words as digits and no stray punctuation."""
    low = clean(text).lower()
    for pattern, replacement in _CONTRACTIONS:
        low = re.sub(pattern, replacement, low)
    low = words_to_numbers(low)
    # Keep what numbers, money, dates and hyphenated words need; everything else separates words.
    low = re.sub(r"[^a-z0-9$%,./\-+&#\s]", " ", low)
    low = re.sub(r"(?<!\d)[,.](?!\d)", " ", low)
    return re.sub(r"\s+", " ", low).strip()


def words(low: str) -> list[str]:
    """The alphanumeric words of normalised text."""
    return re.findall(r"[a-z0-9]+", low)
