"""Student record tools: create, update, merge and deactivate students."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.student import merge, records, service
from domain.student.record_schemas import (
    CreateStudentInput,
    DeactivateStudentInput,
    MergeResult,
    MergeStudentsInput,
    UpdateStudentInput,
)
from domain.student.schemas import StudentProfile
from policies.scope import Action, DataClass, Scope
from tools.catalog import ToolContext, tool

PROFILE_IDS = ("id", "student_id")


@tool(
    data_class=DataClass.DIRECTORY,
    action=Action.WRITE,
    title="Create a student",
    idempotent=False,
    student_id_fields=PROFILE_IDS,
)
def create_student(session: Session, scope: Scope, data: CreateStudentInput, ctx: ToolContext) -> StudentProfile:
    """Create a student record at a campus (org_id from whoami) and assign the next student number.

    Needs legal first and last name, birth date and grade at entry; demographics and identifiers
    (state_student_id, {'oneroster': sourcedId}) are optional. A child with the same name and birth
    date already in your scope is refused as a duplicate naming their student numbers: use that
    record, or retry with confirm_new_person=true if it is a different child.
    """
    student = records.create_student(session, scope, data, today=ctx.today)
    return service.get_student(session, scope, student.id)


@tool(
    data_class=DataClass.DIRECTORY,
    action=Action.WRITE,
    title="Update a student",
    idempotent=True,
    student_id_fields=PROFILE_IDS,
)
def update_student(session: Session, scope: Scope, data: UpdateStudentInput, ctx: ToolContext) -> StudentProfile:
    """Change fields of a student record (student_id from search_students), with a reason kept on each change.

    Send only the fields that change; null clears an optional one. Names, grade and identifiers need
    directory write; birth date, sex, races, ethnicity and home language need demographics write;
    email, phone and address need contact write. Fails naming the fields your role may not change.
    """
    student = records.update_student(session, scope, data, today=ctx.today)
    return service.get_student(session, scope, student.id)


@tool(
    data_class=DataClass.DIRECTORY,
    action=Action.WRITE,
    title="Merge two student records",
    idempotent=False,
    destructive=True,
    student_id_fields=("id", "student_id", "merged_id"),
)
def merge_students(session: Session, scope: Scope, data: MergeStudentsInput, ctx: ToolContext) -> MergeResult:
    """Merge a duplicate record of a child (merged_id) into the record that stays (survivor_id).

    Enrollments, immunization and health records, attendance, behavior, households, billing,
    applications, guide assignments and identifiers move to the survivor; the duplicate becomes an
    inactive tombstone whose old id and number resolve to the survivor. You need write access to
    both. Fails for one student twice, or when both hold a stint in the same offering.
    """
    survivor, tombstone, moved, dropped = merge.merge_students(session, scope, data)
    return MergeResult(
        survivor=service.get_student(session, scope, survivor.id),
        merged_id=tombstone.id,
        merged_student_number=tombstone.student_number,
        moved=moved,
        dropped=dropped,
    )


@tool(
    data_class=DataClass.DIRECTORY,
    action=Action.WRITE,
    title="Deactivate a student",
    idempotent=False,
    destructive=True,
    student_id_fields=PROFILE_IDS,
)
def deactivate_student(
    session: Session, scope: Scope, data: DeactivateStudentInput, ctx: ToolContext
) -> StudentProfile:
    """Mark a student record inactive with a reason (student_id from search_students); its history stays.

    Refused while the student holds an active or pending enrollment: end it first with
    withdraw_enrollment. Inactive students are left out of search_students unless include_inactive.
    """
    student = records.deactivate_student(session, scope, data)
    return service.get_student(session, scope, student.id)
