"""Every mapped table, imported so that `Base.metadata` is complete (Alembic reads it)."""

from db.models.activity import (
    ABSENT_STATUSES,
    AttendanceRecord,
    AttendanceStatus,
    BehaviorIncident,
    SchoolDay,
    Severity,
)
from db.models.admissions import Application, ApplicationStatus
from db.models.audit import AuditChainHead, ChangeEvent, QueryLog, QueryOutcome
from db.models.enrollment import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    OfferingStatus,
    Program,
    ProgramKind,
    ProgramOffering,
)
from db.models.health import (
    Allergy,
    ExemptionKind,
    ImmunityEvidence,
    ImmunizationExemption,
    ImmunizationRecord,
    ImmunizationRequirement,
    Medication,
    ProvisionalEnrollment,
)
from db.models.identity import RoleGrant, User, UserKind
from db.models.org import Organization, OrgKind, OrgLevel
from db.models.security import ApiKey, OrgTreeVersion
from db.models.student import (
    GuideAssignment,
    Household,
    HouseholdGuardian,
    HouseholdStudent,
    NumberSequence,
    Sex,
    Student,
)

__all__ = [
    "ABSENT_STATUSES",
    "Allergy",
    "ApiKey",
    "Application",
    "ApplicationStatus",
    "AttendanceRecord",
    "AttendanceStatus",
    "AuditChainHead",
    "BehaviorIncident",
    "ChangeEvent",
    "Enrollment",
    "EnrollmentEvent",
    "EnrollmentStatus",
    "ExemptionKind",
    "GuideAssignment",
    "Household",
    "HouseholdGuardian",
    "HouseholdStudent",
    "ImmunityEvidence",
    "ImmunizationExemption",
    "ImmunizationRecord",
    "ImmunizationRequirement",
    "Medication",
    "NumberSequence",
    "OfferingStatus",
    "OrgKind",
    "OrgLevel",
    "OrgTreeVersion",
    "Organization",
    "Program",
    "ProgramKind",
    "ProgramOffering",
    "ProvisionalEnrollment",
    "QueryLog",
    "QueryOutcome",
    "RoleGrant",
    "SchoolDay",
    "Severity",
    "Sex",
    "Student",
    "User",
    "UserKind",
]
