"""The chat's "how many students" is distinct students; the enrollments behind them are said apart."""

from __future__ import annotations

from sqlalchemy import func, select

from db.demo.calendar import DEMO_TODAY
from db.models import Enrollment, Organization
from tests.integration.chat.conftest import prose
from tests.integration.chat.test_planner import ask


def test_the_chat_answers_how_many_students_with_distinct_students(demo_deps, caller):
    with demo_deps.session_factory() as s:
        miami = s.execute(select(Organization.id).where(Organization.slug == "miami")).scalar_one()
        on_day = [Enrollment.org_id == miami, Enrollment.active_on(DEMO_TODAY)]
        students = s.execute(select(func.count(func.distinct(Enrollment.student_id))).where(*on_day)).scalar_one()
        stints = s.execute(select(func.count()).select_from(Enrollment).where(*on_day)).scalar_one()
    assert stints > students  # the demo has Miami campers: the two numbers differ
    text = prose(ask(demo_deps, caller("network_admin"), "How many students do we have at Miami?"))
    assert f": {students} students." in text and f"They hold {stints} enrollments" in text
