"""The offline planner answers each common question form, in many wordings, through the real tools.

Runs on the demo data set on both databases. Each paraphrase must reach the same tool with the
same extracted arguments; out-of-scope personas get a specific refusal; anything unclear gets a
clarification instead of an answer to a different question.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from chat_ui.caller import Memory
from chat_ui.offline.planner import Planner
from db.demo.calendar import DEMO_TODAY
from db.models import GuideAssignment, Student
from domain.calendar import add_months, school_year_start
from tests.integration.chat.conftest import calls, kinds, of_kind, prose

TODAY = DEMO_TODAY
YEAR_START = school_year_start(TODAY).isoformat()


def ask(demo_deps, caller, question: str, memory: Memory | None = None):
    return list(Planner(demo_deps, caller, memory or Memory()).answer(question))


def only_call(events):
    made = calls(events)
    assert len(made) == 1, (made, [e.data for e in events if e.kind in {"clarify", "notice"}])
    name, arguments = made[0]
    arguments.pop("limit", None)
    return name, arguments


# -- missing immunizations ------------------------------------------------------------------------

IMMUNIZATION_PARAPHRASES = [
    "Show me all 5th graders with incomplete immunization records at Austin",
    "which fifth grade students at austin are missing vaccines?",
    "5th-graders at Austin who aren't up to date on their shots",
    "Austin 5th graders lacking immunizations",
    "Which of our fifth graders in Austin haven't completed their vaccinations?",
    "grade 5 immunization compliance at the Austin campus",
    "students in grade five at Austn with incomplete vaccine records",
]


@pytest.mark.parametrize("question", IMMUNIZATION_PARAPHRASES)
def test_missing_immunizations_paraphrases_reach_the_same_call(demo_deps, caller, org_id, question):
    events = ask(demo_deps, caller("nurse_austin"), question)
    assert only_call(events) == ("find_missing_immunizations", {"grade": 5, "org_id": org_id("austin")})
    result = of_kind(events, "tool_result")[0]
    assert result["views"][0]["kind"] == "table" and result["audit_seq"]
    assert "5th graders at Austin with incomplete immunization records" in prose(events)


@pytest.mark.parametrize(
    ("question", "grade", "vaccine"),
    [
        ("kindergarteners missing MMR", 0, "MMR"),
        ("Which seniors still need their meningococcal vaccine?", 12, "Meningococcal"),
        ("freshmen missing Tdap", 9, "DTaP/Tdap/Td"),
        ("kids without the chickenpox vaccine in 1st grade", 1, "Varicella"),
        ("who hasn't had hep B in grade 3", 3, "HepB"),
        ("3rd graders behind on hepatitis B shots", 3, "HepB"),
        ("sophomores who need polio", 10, "Polio"),
        ("7th graders missing varicella", 7, "Varicella"),
        ("Which juniors lack the MenACWY shot?", 11, "Meningococcal"),
    ],
)
def test_grade_words_and_vaccine_aliases_are_understood(demo_deps, caller, question, grade, vaccine):
    events = ask(demo_deps, caller("nurse_austin"), question)
    name, arguments = only_call(events)
    assert name == "find_missing_immunizations"
    assert arguments == {"grade": grade, "vaccine_group": vaccine}


def test_the_immunization_table_matches_the_tool_answer(demo_deps, caller, org_id):
    events = ask(demo_deps, caller("nurse_austin"), IMMUNIZATION_PARAPHRASES[0])
    table = of_kind(events, "tool_result")[0]["views"][0]
    assert table["columns"][:3] == ["Student #", "Name", "Grade"]
    assert all(row[2] == 5 and row[3] == "Austin" for row in table["rows"])
    assert table["total"] == len(table["rows"])


# -- outstanding balances -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "over_cents"),
    [
        ("Which families have outstanding balances over $1,000?", 100_000),
        ("which households owe more than 1k", 100_000),
        ("families that owe us over a thousand dollars", 100_000),
        ("Do any families owe more than two thousand dollars?", 200_000),
        ("unpaid tuition above 1000", 100_000),
        ("who owes at least $2,500", 249_999),
        ("balances of $1.5k or more", 149_999),
        ("outstanding balances over 500 dollars", 50_000),
    ],
)
def test_balance_thresholds_are_extracted_not_guessed(demo_deps, caller, question, over_cents):
    events = ask(demo_deps, caller("finance_academy"), question)
    name, arguments = only_call(events)
    assert name == "list_outstanding_balances"
    assert arguments == {"over_cents": over_cents}
    assert "Families across all campuses you can see" in prose(events)


def test_overdue_balances_at_one_campus(demo_deps, caller, org_id):
    events = ask(demo_deps, caller("finance_academy"), "list overdue balances at Miami over 1k")
    assert only_call(events) == (
        "list_outstanding_balances",
        {"over_cents": 100_000, "overdue_only": True, "org_id": org_id("miami")},
    )


def test_a_nurse_asking_about_balances_is_refused_with_the_reason(demo_deps, caller, query_log):
    events = ask(demo_deps, caller("nurse_austin"), "Which families have outstanding balances over $1,000?")
    refusal = of_kind(events, "refusal")[0]
    assert refusal["message"] == "financial records are not visible to your role"
    assert query_log(refusal["audit_seq"])["outcome"] == "denied"
    assert "financial records are not visible to your role" in prose(events)
    assert not of_kind(events, "tool_result")


# -- enrollment trend -------------------------------------------------------------------------------


def month(day: dt.date) -> str:
    return day.replace(day=1).isoformat()


@pytest.mark.parametrize(
    ("question", "start"),
    [
        ("What's our enrollment trend by month for the past year?", month(add_months(TODAY, -12))),
        ("how has enrollment changed over the last 12 months", month(add_months(TODAY, -12))),
        ("enrollment by month for the last year", month(add_months(TODAY, -12))),
        ("enrollment trend since August", f"{school_year_start(TODAY).year}-08-01"),
        ("how has enrollment changed since last August?", f"{school_year_start(TODAY).year}-08-01"),
        ("monthly enrollment for the last 6 months", month(add_months(TODAY, -6))),
        ("is enrollment growing over the past six months?", month(add_months(TODAY, -6))),
        ("Show me the number of students enrolled each month over the last year", month(add_months(TODAY, -12))),
    ],
)
def test_enrollment_trend_periods(demo_deps, caller, question, start):
    events = ask(demo_deps, caller("registrar_austin"), question)
    assert only_call(events) == ("enrollment_trend", {"start_month": start, "end_month": TODAY.isoformat()})
    views = of_kind(events, "tool_result")[0]["views"]
    assert views[0]["kind"] == "chart" and views[0]["series"][0]["values"]
    assert "Enrollment at Austin went from" in prose(events)


def test_trend_by_program_at_a_campus(demo_deps, caller, org_id):
    events = ask(demo_deps, caller("network_admin"), "enrollment at Miami by month by program since January")
    name, arguments = only_call(events)
    assert (name, arguments["org_id"], arguments["by_program"]) == ("enrollment_trend", org_id("miami"), True)
    assert arguments["start_month"] == f"{TODAY.year}-01-01"


# -- chronic absence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Which students are chronically absent this year?",
        "chronic absenteeism",
        "who is missing too much school",
        "students absent more than 10% of the time",
        "Who has attendance problems this school year?",
        "list chronically absent kids",
    ],
)
def test_chronic_absence_paraphrases(demo_deps, caller, question):
    events = ask(demo_deps, caller("registrar_austin"), question)
    assert only_call(events) == ("find_chronic_absence", {"start_on": YEAR_START, "end_on": TODAY.isoformat()})
    assert "missed 10% or more of their school days" in prose(events)


def test_chronic_absence_for_a_grade_since_a_month(demo_deps, caller, org_id):
    events = ask(demo_deps, caller("registrar_austin"), "5th graders at Austin chronically absent since October")
    assert only_call(events) == (
        "find_chronic_absence",
        {"start_on": f"{TODAY.year}-10-01", "end_on": TODAY.isoformat(), "grade": 5, "org_id": org_id("austin")},
    )


# -- behavior incidents -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "List high-severity behavior incidents in the last 30 days",
            {
                "start_on": (TODAY - dt.timedelta(days=30)).isoformat(),
                "end_on": TODAY.isoformat(),
                "min_severity": "high",
            },
        ),
        (
            "serious discipline incidents over the past 30 days",
            {
                "start_on": (TODAY - dt.timedelta(days=30)).isoformat(),
                "end_on": TODAY.isoformat(),
                "min_severity": "high",
            },
        ),
        (
            "behavior incidents this week",
            {"start_on": (TODAY - dt.timedelta(days=TODAY.weekday())).isoformat(), "end_on": TODAY.isoformat()},
        ),
        (
            "any fights in October?",
            {"start_on": f"{TODAY.year}-10-01", "end_on": f"{TODAY.year}-10-31", "category": "fighting"},
        ),
        (
            "critical incidents since September",
            {"start_on": f"{TODAY.year}-09-01", "end_on": TODAY.isoformat(), "min_severity": "critical"},
        ),
        (
            "show me behaviour incidents from September 1 to October 15",
            {"start_on": f"{TODAY.year}-09-01", "end_on": f"{TODAY.year}-10-15"},
        ),
        (
            "bullying reports in the past 2 weeks",
            {
                "start_on": (TODAY - dt.timedelta(days=14)).isoformat(),
                "end_on": TODAY.isoformat(),
                "category": "bullying",
            },
        ),
    ],
)
def test_behavior_incidents_in_a_period(demo_deps, caller, question, expected):
    events = ask(demo_deps, caller("registrar_austin"), question)
    assert only_call(events) == ("list_behavior_incidents", expected)


def test_incident_descriptions_are_shown_as_recorded_text(demo_deps, caller):
    events = ask(demo_deps, caller("network_admin"), "behavior incidents since August")
    table = of_kind(events, "tool_result")[0]["views"][0]
    assert "Description (as written by staff)" in table["columns"]
    assert "shown as they were recorded" in prose(events)


# -- roster ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "grade", "campus"),
    [
        ("Who is enrolled in 3rd grade at Miami?", 3, "miami"),
        ("roster for kindergarten at Dallas", 0, "dallas"),
        ("list all the seniors at San Antonio", 12, "san-antonio"),
        ("how many 5th graders are at Austin", 5, "austin"),
        ("who's in pre-k at Austin", -1, "austin"),
        ("give me the class list for grade 7 at Houston", 7, "houston"),
        ("Who are Austin's kindergarteners?", 0, "austin"),
        ("who are the seniors at austn", 12, "austin"),
    ],
)
def test_roster_by_campus_and_grade(demo_deps, caller, org_id, question, grade, campus):
    events = ask(demo_deps, caller("network_admin"), question)
    assert only_call(events) == ("query_roster", {"grade": grade, "org_id": org_id(campus)})
    assert "students." in prose(events) or "student." in prose(events)


def test_roster_by_program_finds_the_program_among_the_offerings(demo_deps, caller):
    events = ask(demo_deps, caller("network_admin"), "who is in the robotics lab?")
    made = calls(events)
    assert [name for name, _ in made] == ["list_offerings", "query_roster"]
    offerings = of_kind(events, "tool_result")[0]["views"][0]["rows"]
    robotics = {row[0] for row in offerings if "Robotics" in row[0]}
    assert robotics and "program_id" in made[1][1]


def test_a_guide_sees_only_assigned_students(demo_deps, caller, persona):
    guide = persona("guide_austin")
    events = ask(demo_deps, caller("guide_austin"), "Who is enrolled at Austin?")
    assert calls(events)[0][0] == "query_roster"
    rows = of_kind(events, "tool_result")[0]["views"][0]["rows"]
    with demo_deps.session_factory() as s:
        assigned = set(
            s.execute(
                select(Student.student_number)
                .join(GuideAssignment, GuideAssignment.student_id == Student.id)
                .where(GuideAssignment.guide_user_id == guide.user_id)
            ).scalars()
        )
    assert rows and {row[0] for row in rows} <= assigned


# -- a student's profile --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Tell me about Tyler Lee",
        "look up Tyler Lee",
        "who is Tyler Lee",
        "Tyler Lee's profile",
        "show the profile of student 100062",
        "profile for tyler lee please",
    ],
)
def test_a_students_profile_by_name_or_number(demo_deps, caller, question):
    events = ask(demo_deps, caller("registrar_austin"), question)
    assert [name for name, _ in calls(events)] == ["search_students", "get_student"]
    assert "Tyler Lee (#100062) is in" in prose(events)
    assert of_kind(events, "tool_result")[1]["views"][0]["kind"] == "record"


def test_per_student_topics_resolve_the_student_first(demo_deps, caller):
    attendance = ask(demo_deps, caller("registrar_austin"), "Tyler Lee's attendance")
    assert [name for name, _ in calls(attendance)] == ["search_students", "attendance_summary"]
    history = ask(demo_deps, caller("nurse_austin"), "immunization history for Tyler Lee")
    assert [name for name, _ in calls(history)] == ["search_students", "get_immunization_history"]


def test_a_student_outside_the_callers_scope_is_reported_as_not_found(demo_deps, caller):
    events = ask(demo_deps, caller("registrar_miami"), "Tell me about Tyler Lee")
    assert [name for name, _ in calls(events)] == ["search_students"]
    assert "No student matching 'Tyler Lee' is visible to you." in prose(events)


# -- out of scope and unclear ---------------------------------------------------------------------------


@pytest.mark.parametrize("question", IMMUNIZATION_PARAPHRASES[:3])
def test_a_registrar_asking_about_immunizations_gets_her_campus_answer(demo_deps, caller, org_id, question):
    events = ask(demo_deps, caller("registrar_austin"), question)
    assert not of_kind(events, "refusal")
    assert only_call(events) == ("find_missing_immunizations", {"grade": 5, "org_id": org_id("austin")})
    table = of_kind(events, "tool_result")[0]["views"][0]
    assert table["rows"] and all(row[2] == 5 and row[3] == "Austin" for row in table["rows"])


def test_the_registrar_asks_the_headline_question_without_naming_a_campus(demo_deps, caller):
    events = ask(demo_deps, caller("registrar_austin"), "Show me all 5th graders with incomplete immunization records")
    assert not of_kind(events, "refusal")
    assert [name for name, _ in calls(events)] == ["find_missing_immunizations"]
    table = of_kind(events, "tool_result")[0]["views"][0]
    assert table["rows"] and {row[3] for row in table["rows"]} == {"Austin"}, "her campus only"
    assert "incomplete immunization records" in prose(events)


@pytest.mark.parametrize("persona_name", ["guide_austin", "finance_academy"])
def test_a_role_without_immunization_records_is_told_they_are_not_visible(demo_deps, caller, persona_name):
    events = ask(demo_deps, caller(persona_name), IMMUNIZATION_PARAPHRASES[0])
    assert of_kind(events, "refusal")[0]["message"] == "immunization records are not visible to your role"
    assert not of_kind(events, "tool_result")


@pytest.mark.parametrize(
    ("persona_name", "question", "message"),
    [
        ("guide_austin", "5th graders missing MMR", "immunization records are not visible to your role"),
        (
            "auditor_network",
            "List high-severity behavior incidents in the last 30 days",
            "behavior records are not visible to your role",
        ),
        (
            "nurse_austin",
            "Which students are chronically absent this year?",
            "attendance records are not visible to your role",
        ),
        ("integration_lakeside", "chronic absenteeism", "attendance records are not visible to your role"),
    ],
)
def test_other_personas_get_the_refusal_for_their_role(demo_deps, caller, persona_name, question, message):
    events = ask(demo_deps, caller(persona_name), question)
    assert of_kind(events, "refusal")[0]["message"] == message


def test_a_campus_the_caller_cannot_see_is_named_not_replaced(demo_deps, caller):
    events = ask(demo_deps, caller("registrar_austin"), "Who is enrolled in 3rd grade at Miami?")
    clarify = of_kind(events, "clarify")[0]
    assert "couldn't find a campus called 'Miami'" in clarify["message"] and "(Austin)" in clarify["message"]
    assert not calls(events)
    assert "Who is enrolled in 3rd grade at Austin?" in clarify["suggestions"]


@pytest.mark.parametrize("question", ["what is the weather like?", "tell me a joke", "xyzzy", "how are the kids doing"])
def test_a_question_it_does_not_understand_gets_suggestions_not_an_answer(demo_deps, caller, question):
    events = ask(demo_deps, caller("registrar_austin"), question)
    assert kinds(events) == ["clarify"]
    clarify = of_kind(events, "clarify")[0]
    assert "won't guess" in clarify["message"] or "not what you want" in clarify["message"]
    assert 1 <= len(clarify["suggestions"]) <= 3
    assert not any("immunization" in s for s in clarify["suggestions"]), "only questions the registrar can ask"


def test_partial_understanding_is_reported_with_the_closest_questions(demo_deps, caller):
    events = ask(demo_deps, caller("registrar_austin"), "5th graders at Austin?")
    clarify = of_kind(events, "clarify")[0]
    assert {"5th grade", "campus Austin"} <= set(clarify["understood"])
    assert "Who is enrolled in 5th grade at Austin?" in clarify["suggestions"]
    assert not calls(events)


def test_changes_are_not_made_offline(demo_deps, caller):
    events = ask(demo_deps, caller("registrar_austin"), "enroll Tyler Lee in the robotics lab")
    assert kinds(events) == ["notice"] and "does not change records" in of_kind(events, "notice")[0]["message"]


def test_details_a_form_cannot_use_are_reported(demo_deps, caller):
    events = ask(demo_deps, caller("registrar_austin"), "severe behavior problems in grade 8")
    assert any("by grade" in n["message"] for n in of_kind(events, "notice"))


def test_follow_up_questions_reuse_what_was_asked_before(demo_deps, caller, org_id):
    memory = Memory()
    admin = caller("network_admin")
    ask(demo_deps, admin, "Who is enrolled in 3rd grade at Austin?", memory)
    events = ask(demo_deps, admin, "what about Miami?", memory)
    assert only_call(events) == ("query_roster", {"grade": 3, "org_id": org_id("miami")})
    events = ask(demo_deps, admin, "and 4th grade?", memory)
    assert only_call(events) == ("query_roster", {"grade": 4, "org_id": org_id("miami")})


def test_help_lists_the_question_forms(demo_deps, caller):
    events = ask(demo_deps, caller("nurse_austin"), "help")
    assert "incomplete immunization records" in prose(events)
    assert "balances" not in prose(events), "only forms the nurse can use"
