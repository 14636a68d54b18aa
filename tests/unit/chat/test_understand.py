"""Reading questions: grades, vaccines, amounts, periods and campuses are extracted, never guessed."""

from __future__ import annotations

import datetime as dt

import pytest

from chat_ui.offline.names import Campus, find_campuses, mentions_all_campuses, unknown_place
from chat_ui.offline.periods import find_period
from chat_ui.offline.slots import find_amount, find_grades, find_vaccines, grade_label
from chat_ui.offline.text import normalise, words_to_numbers

TODAY = dt.date(2026, 11, 20)  # a Friday
CAMPUSES = [
    Campus("a", "Austin", "/alpha/academy/austin/"),
    Campus("m", "Miami", "/alpha/academy/miami/"),
    Campus("h", "Houston", "/alpha/prep/houston/"),
    Campus("s", "San Antonio", "/alpha/prep/san-antonio/"),
    Campus("l", "Lakeside Preparatory School", "/alpha/connect/lakeside/"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a thousand dollars", "1000 dollars"),
        ("two thousand five hundred", "2500"),
        ("the last six months", "the last 6 months"),
        ("fifteen hundred", "1500"),
        ("twenty-one days", "21 days"),
    ],
)
def test_number_words_become_digits(text, expected):
    assert words_to_numbers(text) == expected


def test_normalise_expands_contractions_and_drops_punctuation():
    assert normalise("What’s Austin’s enrollment trend?!") == "what is austin enrollment trend"
    assert normalise("Who hasn't had MMR") == "who has not had mmr"


@pytest.mark.parametrize(
    ("text", "grades"),
    [
        ("show me all 5th graders", [5]),
        ("fifth grade students", [5]),
        ("fifth-graders", [5]),
        ("grade 5", [5]),
        ("grade five", [5]),
        ("kindergarteners", [0]),
        ("kindergartners and first graders", [0, 1]),
        ("pre-k students", [-1]),
        ("pre-kindergarten", [-1]),
        ("seniors", [12]),
        ("juniors", [11]),
        ("sophomores", [10]),
        ("freshmen", [9]),
        ("freshman class", [9]),
        ("5th and 6th graders", [5, 6]),
        ("grades 3-5", [3, 4, 5]),
        ("grades 3 through 5", [3, 4, 5]),
        ("12th grade", [12]),
        ("students in junior high", []),
        ("the 2026 grade book", []),
        ("no grade here", []),
    ],
)
def test_grades_are_read_from_many_wordings(text, grades):
    assert find_grades(normalise(text)) == grades


def test_grade_labels():
    assert [grade_label(g) for g in (-1, 0, 1, 2, 3, 5, 11, 12)] == [
        "pre-K",
        "kindergarten",
        "1st grade",
        "2nd grade",
        "3rd grade",
        "5th grade",
        "11th grade",
        "12th grade",
    ]


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("missing MMR", ["MMR"]),
        ("measles shots", ["MMR"]),
        ("chickenpox", ["Varicella"]),
        ("chicken pox", ["Varicella"]),
        ("varicella", ["Varicella"]),
        ("Tdap", ["DTaP/Tdap/Td"]),
        ("whooping cough", ["DTaP/Tdap/Td"]),
        ("tetanus booster", ["DTaP/Tdap/Td"]),
        ("meningococcal", ["Meningococcal"]),
        ("MenACWY", ["Meningococcal"]),
        ("meningitis", ["Meningococcal"]),
        ("hep B", ["HepB"]),
        ("hepatitis B", ["HepB"]),
        ("HepB", ["HepB"]),
        ("hep A", ["HepA"]),
        ("polio", ["Polio"]),
        ("IPV", ["Polio"]),
        ("MMR and varicella", ["MMR", "Varicella"]),
        ("immunizations", []),
    ],
)
def test_vaccine_names_and_aliases(text, groups):
    assert find_vaccines(normalise(text)) == groups


@pytest.mark.parametrize(
    ("text", "cents", "inclusive"),
    [
        ("balances over $1,000", 100_000, False),
        ("more than $1000", 100_000, False),
        ("over 1k", 100_000, False),
        ("owe 1K", 100_000, False),
        ("over a thousand dollars", 100_000, False),
        ("above one thousand", 100_000, False),
        ("over 1000", 100_000, False),
        ("$2.5k or more", 250_000, True),
        ("at least $500", 50_000, True),
        ("over $1,234.56", 123_456, False),
        ("2 grand", 200_000, False),
        ("over two thousand five hundred dollars", 250_000, False),
    ],
)
def test_money_amounts(text, cents, inclusive):
    amount = find_amount(normalise(text))
    assert amount is not None and (amount.cents, amount.inclusive) == (cents, inclusive)


@pytest.mark.parametrize("text", ["5th graders", "the last 30 days", "more than 10% of days", "grade 12", "in 2026"])
def test_numbers_that_are_not_money_are_not_amounts(text):
    assert find_amount(normalise(text)) is None


def test_amount_words():
    assert find_amount(normalise("over $1,000")).words == "over $1,000"  # type: ignore[union-attr]
    assert find_amount(normalise("$1,500.50 or more")).words == "$1,500.50 or more"  # type: ignore[union-attr]


D = dt.date


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("for the past year", D(2025, 11, 20), TODAY),
        ("over the last year", D(2025, 11, 20), TODAY),
        ("last 12 months", D(2025, 11, 20), TODAY),
        ("last 6 months", D(2026, 5, 20), TODAY),
        ("past six months", D(2026, 5, 20), TODAY),
        ("half a year", D(2026, 5, 20), TODAY),
        ("since August", D(2026, 8, 1), TODAY),
        ("since last August", D(2026, 8, 1), TODAY),
        ("since December", D(2025, 12, 1), TODAY),
        ("since Aug 15", D(2026, 8, 15), TODAY),
        ("since 8/15", D(2026, 8, 15), TODAY),
        ("since 2026-09-01", D(2026, 9, 1), TODAY),
        ("this week", D(2026, 11, 16), TODAY),
        ("last week", D(2026, 11, 9), D(2026, 11, 15)),
        ("this month", D(2026, 11, 1), TODAY),
        ("last month", D(2026, 10, 1), D(2026, 10, 31)),
        ("the last 30 days", D(2026, 10, 21), TODAY),
        ("in the past two weeks", D(2026, 11, 6), TODAY),
        ("this school year", D(2026, 8, 1), TODAY),
        ("this year", D(2026, 8, 1), TODAY),
        ("year to date", D(2026, 8, 1), TODAY),
        ("last school year", D(2025, 8, 1), D(2026, 7, 31)),
        ("in October", D(2026, 10, 1), D(2026, 10, 31)),
        ("during september", D(2026, 9, 1), D(2026, 9, 30)),
        ("in December", D(2025, 12, 1), D(2025, 12, 31)),
        ("in October 2025", D(2025, 10, 1), D(2025, 10, 31)),
        ("from September 1 to October 15", D(2026, 9, 1), D(2026, 10, 15)),
        ("between September and October", D(2026, 9, 1), D(2026, 10, 31)),
        ("from September to now", D(2026, 9, 1), TODAY),
        ("today", TODAY, TODAY),
        ("yesterday", D(2026, 11, 19), D(2026, 11, 19)),
        ("the 2025-26 school year", D(2025, 8, 1), D(2026, 7, 31)),
        ("since the start of the school year", D(2026, 8, 1), TODAY),
    ],
)
def test_periods_are_relative_to_today(text, start, end):
    period = find_period(normalise(text), TODAY)
    assert period is not None, text
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("text", ["students who may be absent", "5th graders", "in 3 decades", "march of dimes"])
def test_no_period_is_invented(text):
    assert find_period(normalise(text), TODAY) is None


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("5th graders at Austin", ["Austin"]),
        ("at austn", ["Austin"]),
        ("the Miami campus", ["Miami"]),
        ("Mimai", []),
        ("San Antonio seniors", ["San Antonio"]),
        ("san-antonio", ["San Antonio"]),
        ("Lakeside", ["Lakeside Preparatory School"]),
        ("Austin and Miami", ["Austin", "Miami"]),
        ("households", []),
        ("house", []),
        ("students at the school", []),
    ],
)
def test_campuses_come_from_the_callers_own_list_with_typos_allowed(text, names):
    assert [c.name for c in find_campuses(normalise(text), CAMPUSES).campuses] == names


def test_all_campuses_is_an_explicit_choice():
    assert mentions_all_campuses(normalise("across all campuses"))
    assert mentions_all_campuses(normalise("network-wide"))
    assert not mentions_all_campuses(normalise("at Austin"))


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Who is enrolled in 3rd grade at Springfield?", "Springfield"),
        ("students at the Springfield School", "Springfield"),
        ("kids at springfield", "Springfield"),
        ("the Northside campus roster", "Northside"),
    ],
)
def test_places_the_caller_cannot_see_are_reported(text, place):
    low = normalise(text)
    vocabulary = {"who", "is", "enrolled", "in", "grade", "students", "kids", "roster", "the"}
    assert unknown_place(text, low, find_campuses(low, CAMPUSES), vocabulary) == place


@pytest.mark.parametrize(
    "text",
    ["5th graders at Austin", "in October", "at least $500", "at the Miami campus", "in grade 5", "at risk students"],
)
def test_known_words_are_not_mistaken_for_places(text):
    low = normalise(text)
    vocabulary = {"october", "grade", "students", "in", "at"}
    assert unknown_place(text, low, find_campuses(low, CAMPUSES), vocabulary) is None


def test_a_period_reaching_back_past_any_record_starts_at_the_earliest_date():
    """#15 "Unbounded numbers": "the last 99999999 months" in the chat answered "something went wrong"."""
    import datetime as dt

    from chat_ui.offline.periods import EARLIEST, find_period

    today = dt.date(2026, 12, 3)
    for phrase in ("payments in the last 99999999 months", "the last 99999999999999999999 days", "past 5000 years"):
        period = find_period(phrase, today)
        assert period is not None and period.start == EARLIEST and period.end == today, phrase
    assert find_period("the last 3 months", today).start == dt.date(2026, 9, 3)
