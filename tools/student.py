"""Student directory tools."""

from __future__ import annotations

import uuid

from pydantic import Field
from sqlalchemy.orm import Session

from domain.student import service
from domain.student.schemas import StudentPage, StudentProfile, StudentSearchQuery
from policies.scope import DataClass, Scope
from tools.catalog import ToolContext, ToolInput, tool


@tool(data_class=DataClass.DIRECTORY, title="Search students", student_id_fields=("id",))
def search_students(session: Session, scope: Scope, data: StudentSearchQuery, ctx: ToolContext) -> StudentPage:
    """Find students by part of a name ("maria lopez") or an exact student number, optionally by campus or grade.

    Returns student ids for get_student and the other tools. Only students you may see are searched.
    Paginated: pass next_cursor as after for the next page (or next_offset as offset).
    """
    return service.search_students(session, scope, data)


class GetStudentInput(ToolInput):
    student_id: uuid.UUID = Field(description="The student's id (from search_students or query_roster).")


@tool(data_class=DataClass.DIRECTORY, title="Student profile", student_id_fields=("id", "student_id"))
def get_student(session: Session, scope: Scope, data: GetStudentInput, ctx: ToolContext) -> StudentProfile:
    """Show one student's profile: name, grade, campus, enrollment stints and households.

    Contact and demographic fields appear only if your role may see them; `hidden` names what was withheld.
    A student outside your scope is reported as not found.
    """
    return service.get_student(session, scope, data.student_id)
