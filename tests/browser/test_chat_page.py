"""The chat page in a real browser: sign in, ask, and check what a person sees against independent SQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from pathlib import Path

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from db.models import (
    Enrollment,
    EnrollmentStatus,
    GuideAssignment,
    ImmunizationExemption,
    ImmunizationRecord,
    Organization,
    QueryLog,
    Student,
)

HEADLINE = "Show me all 5th graders with incomplete immunization records at Austin"
ROOT = Path(__file__).resolve().parents[2]


def sign_in_as(page, persona_key: str) -> None:
    page.click(f'button[data-persona="{persona_key}"]')
    page.wait_for_selector("#banner p")


def ask(page, question: str):
    """Type a question, send it, and wait for the answer to finish; returns the answer element."""
    before = page.locator("article.assistant").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    answer = page.locator("article.assistant").nth(before)
    answer.and_(page.locator("article.assistant.done")).wait_for(timeout=30_000)
    return answer


def table_rows(box) -> list[list[str]]:
    rows = []
    for row in box.locator("figure.table-view").first.locator("tbody tr").all():
        rows.append([cell.inner_text() for cell in row.locator("td").all()])
    return rows


def fifth_graders_short_of_mmr(engine, as_of: dt.date) -> tuple[set[int], set[int]]:
    """Independent SQL: Austin 5th graders enrolled on `as_of`, and those with fewer than 2 MMR doses, not exempt."""
    with Session(engine) as s:
        austin = s.execute(select(Organization.id).where(Organization.slug == "austin")).scalar_one()
        fifth = select(Enrollment.student_id).where(
            Enrollment.org_id == austin,
            Enrollment.grade_level == 5,
            Enrollment.start_on <= as_of,
            or_(Enrollment.end_on.is_(None), Enrollment.end_on >= as_of),
            Enrollment.status != EnrollmentStatus.PENDING,
        )
        numbers = dict(s.execute(select(Student.id, Student.student_number).where(Student.id.in_(fifth))).all())
        doses = dict(
            s.execute(
                select(Student.id, func.count(func.distinct(ImmunizationRecord.administered_on)))
                .join(
                    ImmunizationRecord,
                    and_(ImmunizationRecord.student_id == Student.id, ImmunizationRecord.cvx_code.in_(["03", "94"])),
                    isouter=True,
                )
                .where(Student.id.in_(fifth))
                .group_by(Student.id)
            ).all()
        )
        exempt = set(
            s.execute(
                select(ImmunizationExemption.student_id).where(
                    ImmunizationExemption.student_id.in_(fifth),
                    ImmunizationExemption.signed_on <= as_of,
                    or_(ImmunizationExemption.expires_on.is_(None), ImmunizationExemption.expires_on >= as_of),
                    or_(ImmunizationExemption.vaccine_group.is_(None), ImmunizationExemption.vaccine_group == "MMR"),
                )
            ).scalars()
        )
    short = {numbers[sid] for sid, n in doses.items() if n < 2 and sid not in exempt}
    return set(numbers.values()), short


def test_a_nurse_sees_the_incomplete_immunization_table_matching_independent_sql(page, served_db):
    sign_in_as(page, "nurse_austin")
    assert "Janet Okafor" in page.inner_text("#banner")
    answer = ask(page, HEADLINE)
    box = answer.locator('.tool:has(details[data-tool="find_missing_immunizations"])')
    assert re.search(r"audit #\d+", box.locator(".tool-status").inner_text())
    title = box.locator("figure.table-view .title").first.inner_text()
    as_of = dt.date.fromisoformat(title.rsplit(" ", 1)[-1])
    rows = table_rows(box)
    enrolled, short_of_mmr = fifth_graders_short_of_mmr(served_db.engine, as_of)
    assert enrolled, "the demo data has 5th graders at Austin"
    listed = {int(row[0]) for row in rows}
    assert listed <= enrolled
    assert all(row[2] == "5" and row[3] == "Austin" for row in rows)
    listed_missing_mmr = {int(row[0]) for row in rows if "MMR: missing" in row[5]}
    assert listed_missing_mmr == short_of_mmr
    assert "5th graders at Austin with incomplete immunization records" in answer.locator(".prose").inner_text()


def test_the_registrar_answers_the_headline_question_for_her_campus(page, served_db):
    page.fill("#api-key", served_db.keys["registrar_austin"])
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#banner p")
    assert "Rosa Delgado" in page.inner_text("#banner")
    answer = ask(page, "Show me all 5th graders with incomplete immunization records")
    assert answer.locator(".alert.refusal").count() == 0
    box = answer.locator('.tool:has(details[data-tool="find_missing_immunizations"])')
    rows = table_rows(box)
    assert rows and all(row[2] == "5" and row[3] == "Austin" for row in rows)
    assert "incomplete immunization records" in answer.locator(".prose").inner_text()


def test_a_guide_sees_only_assigned_students(page, served_db):
    sign_in_as(page, "guide_austin")
    assert "limited to the students assigned to you" in page.inner_text("#banner")
    answer = ask(page, "Who is enrolled at Austin?")
    rows = table_rows(answer.locator('.tool:has(details[data-tool="query_roster"])'))
    with Session(served_db.engine) as s:
        assigned = set(
            s.execute(
                select(Student.student_number)
                .join(GuideAssignment, GuideAssignment.student_id == Student.id)
                .join(Organization, Organization.id == GuideAssignment.org_id)
                .where(Organization.slug == "austin")
            ).scalars()
        )
    numbers = {int(row[0]) for row in rows}
    assert numbers and numbers <= assigned


def test_a_persona_without_immunization_access_gets_a_refusal_not_an_empty_table(page):
    sign_in_as(page, "finance_academy")
    answer = ask(page, "which kindergarteners are missing their chickenpox shots?")
    assert "immunization records are not visible to your role" in answer.inner_text()


def test_the_enrollment_trend_is_drawn_as_a_chart_with_a_table_and_csv(page):
    sign_in_as(page, "registrar_austin")
    answer = ask(page, "What's our enrollment trend by month for the past year?")
    chart = answer.locator("svg.chart")
    assert chart.count() == 1
    assert chart.locator("circle").count() == 13
    assert chart.locator("title").first.text_content() == "Enrollment by month"
    with page.expect_download() as download:
        answer.get_by_role("link", name="Download Enrollment by month as CSV").click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    table = rows[rows.index([]) + 1 :]  # after the header block (docs/chat-exports.md)
    assert table[0] == ["Month", "Measured on", "Enrolled students"] and len(table) == 14


def test_a_roster_downloads_as_the_csv_and_workbook_the_server_kept(page, served_db):
    from openpyxl import load_workbook

    sign_in_as(page, "registrar_austin")
    answer = ask(page, "Who is enrolled in 3rd grade at Austin?")
    box = answer.locator('.tool:has(details[data-tool="query_roster"])')
    shown = table_rows(box)
    with page.expect_download() as download:
        box.get_by_role("link", name=re.compile(r"Download Roster on .* as CSV")).click()
    assert re.fullmatch(r"roster-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    block = dict(rows[: rows.index([])])
    assert block["Question"] == "Who is enrolled in 3rd grade at Austin?"
    assert block["Asked by"].startswith("Rosa Delgado")
    table = rows[rows.index([]) + 1 :]
    assert table[0][:3] == ["Student #", "Name", "Grade"]
    assert [r[:2] for r in table[1:]] == [r[:2] for r in shown] and shown
    seq = int(block["Download"].removeprefix("query log #"))
    with Session(served_db.engine) as s:
        logged = s.execute(select(QueryLog.capability, QueryLog.row_count).where(QueryLog.seq == seq)).one()
    assert tuple(logged) == ("query_roster", len(shown))
    with page.expect_download() as workbook:
        box.get_by_role("link", name=re.compile(r"Download Roster on .* as Excel")).click()
    assert workbook.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(workbook.value.path()).read_bytes())).active
    assert sheet["A2"].value == "Question" and sheet["B2"].value == "Who is enrolled in 3rd grade at Austin?"


def test_tool_calls_are_collapsible_and_show_their_arguments(page):
    sign_in_as(page, "registrar_austin")
    answer = ask(page, "Who is enrolled in 3rd grade at Austin?")
    details = answer.locator('details[data-tool="query_roster"]')
    assert details.get_attribute("open") is None
    details.locator("summary").click()
    assert '"grade": 3' in details.locator("pre.arguments").inner_text()


def test_an_unclear_question_offers_questions_to_click(page):
    sign_in_as(page, "registrar_austin")
    answer = ask(page, "what is the weather like?")
    chips = answer.locator(".alert.clarify button.chip")
    assert chips.count() >= 1
    first = chips.first.inner_text()
    chips.first.click()
    page.locator("article.user").nth(1).wait_for()
    assert page.locator("article.user").nth(1).inner_text() == first


def test_suggested_questions_answer_when_clicked(page):
    sign_in_as(page, "nurse_austin")
    page.locator("#suggestions button.chip", has_text="immunization").click()
    page.locator("article.assistant.done").wait_for(timeout=30_000)
    assert page.locator("article.assistant figure.table-view").count() >= 1


def test_screenshot_of_the_page(page, tmp_path):
    sign_in_as(page, "nurse_austin")
    ask(page, HEADLINE)
    ask(page, "What's our enrollment trend by month for the past year?")
    page.set_viewport_size({"width": 1280, "height": 1750})
    page.evaluate("window.scrollTo(0, 0)")
    target = tmp_path / "screenshot-chat.png"
    page.screenshot(path=str(target), full_page=False)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SIS_WRITE_SCREENSHOT"):
        # Refresh the README's picture on demand (SIS_WRITE_SCREENSHOT=1), never as a side effect in CI.
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "screenshot-chat.png").write_bytes(target.read_bytes())
