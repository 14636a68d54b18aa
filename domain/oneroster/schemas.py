"""Inputs and outputs of the OneRoster 1.2 rostering read (the JSON bodies follow the 1EdTech document)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

# Collections are capped server-side; a larger `limit` is served as this many (documented in the API).
MAX_LIMIT = 1_000
DEFAULT_LIMIT = 100


class Collection(enum.StrEnum):
    ORGS = "orgs"
    SCHOOLS = "schools"
    ACADEMIC_SESSIONS = "academicSessions"
    TERMS = "terms"
    GRADING_PERIODS = "gradingPeriods"
    COURSES = "courses"
    CLASSES = "classes"
    USERS = "users"
    STUDENTS = "students"
    TEACHERS = "teachers"
    ENROLLMENTS = "enrollments"
    DEMOGRAPHICS = "demographics"


class OneRosterQuery(BaseModel):
    collection: Collection = Field(description="The OneRoster collection to read, e.g. 'users' or 'enrollments'.")
    sourced_id: str | None = Field(default=None, description="Read one object by its sourcedId instead of a page.")
    school_id: str | None = Field(default=None, description="Only within this school (nested /schools/{id}/...).")
    class_id: str | None = Field(default=None, description="Only within this class (nested /classes/{id}/...).")
    course_id: str | None = Field(default=None, description="Only classes of this course.")
    term_id: str | None = Field(default=None, description="Only within this term (nested /terms/{id}/...).")
    user_id: str | None = Field(default=None, description="Only classes of this user, student or teacher.")
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, description=f"Page size; above {MAX_LIMIT} is served as {MAX_LIMIT}."
    )
    offset: int = Field(default=0, ge=0, description="Index of the first record.")
    after: str | None = Field(
        default=None,
        max_length=2000,
        description="The cursor of a next link (opaque): resumes after the previous page's last record when "
        "offset is the one the link gave; with another offset, offset decides.",
    )
    sort: str | None = Field(default=None, max_length=100, description="Field to sort by (default: sourcedId).")
    order_by: Literal["asc", "desc"] | None = Field(default=None, description="asc (default) or desc.")
    filter: str | None = Field(default=None, max_length=2000, description="OneRoster filter, e.g. status='active'.")
    fields: str | None = Field(default=None, max_length=2000, description="Comma-separated fields to return.")
    base_url: str = Field(
        default="/ims/oneroster/rostering/v1p2", max_length=500, description="Base of the hrefs in references."
    )
    as_of: dt.date = Field(description="The day that decides which assignments are current.")


class DisclosedStudent(BaseModel):
    student_id: uuid.UUID


class OneRosterPage(BaseModel):
    collection: str
    total: int = Field(description="Records matching the query across all pages (X-Total-Count).")
    limit: int
    offset: int
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(default=None, description="Resumes after this page (the next link carries it).")
    disclosed: list[DisclosedStudent] = Field(description="Students whose records the page carries (query log).")
