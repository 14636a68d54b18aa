"""The admissions pipeline as a transition table: application -> shadow day -> offer -> decision."""

from __future__ import annotations

import enum

from db.models import ApplicationStatus as S


class AdmissionsAction(enum.StrEnum):
    SCHEDULE_SHADOW = "schedule_shadow"
    COMPLETE_SHADOW = "complete_shadow"
    MAKE_OFFER = "make_offer"
    ACCEPT_OFFER = "accept_offer"
    DECLINE_OFFER = "decline_offer"
    REJECT = "reject"
    WITHDRAW = "withdraw"


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[AdmissionsAction, tuple[frozenset[S], S]] = {
    AdmissionsAction.SCHEDULE_SHADOW: (frozenset({S.SUBMITTED, S.SHADOW_SCHEDULED}), S.SHADOW_SCHEDULED),
    AdmissionsAction.COMPLETE_SHADOW: (frozenset({S.SHADOW_SCHEDULED}), S.SHADOW_COMPLETED),
    AdmissionsAction.MAKE_OFFER: (frozenset({S.SUBMITTED, S.SHADOW_COMPLETED}), S.OFFERED),
    AdmissionsAction.ACCEPT_OFFER: (frozenset({S.OFFERED}), S.ACCEPTED),
    AdmissionsAction.DECLINE_OFFER: (frozenset({S.OFFERED}), S.DECLINED),
    AdmissionsAction.REJECT: (frozenset({S.SUBMITTED, S.SHADOW_SCHEDULED, S.SHADOW_COMPLETED}), S.REJECTED),
    AdmissionsAction.WITHDRAW: (
        frozenset({S.SUBMITTED, S.SHADOW_SCHEDULED, S.SHADOW_COMPLETED, S.OFFERED}),
        S.WITHDRAWN,
    ),
}

TERMINAL = frozenset({S.ACCEPTED, S.DECLINED, S.REJECTED, S.WITHDRAWN})


def next_status(current: S, action: AdmissionsAction) -> S | None:
    """The status `action` leads to from `current`, or None when the transition is not allowed."""
    allowed_from, target = TRANSITIONS[action]
    return target if current in allowed_from else None


def allowed_actions(current: S) -> list[AdmissionsAction]:
    """Actions that may be taken on an application in `current` status."""
    return [action for action, (froms, _) in TRANSITIONS.items() if current in froms]
