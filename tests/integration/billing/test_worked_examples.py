"""The worked examples of docs/billing.md, end to end through the billing services on both engines.

Each example's numbers are the docs/billing.md table: change one only together with the other.
Tuition $40,000.00, enrollment deposit $500.00 (upfront, non-refundable), lunch program $950.00.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from db.models import Installment, InstallmentStatus, PaymentMethod
from domain.billing import agreements, charges, ledger, previews, withdrawal
from domain.billing.schemas import (
    BalanceInput,
    PreviewTuitionInput,
    RecordPaymentInput,
    RefundPaymentInput,
    SetPaymentPlanInput,
)
from domain.enrollment import service as enrollment_service
from domain.enrollment.schemas import WithdrawEnrollmentInput
from tests.factories import create_household
from tests.integration.billing.support import TODAY, family, grant, student_in


def schedule(session, household_id):
    return [
        (i.due_on, i.amount_cents)
        for i in session.execute(
            select(Installment)
            .where(Installment.household_id == household_id, Installment.status != InstallmentStatus.CANCELLED)
            .order_by(Installment.due_on, Installment.seq)
        ).scalars()
    ]


def lines(preview):
    return [(line.code, line.amount_cents) for line in preview.lines]


def test_sibling_and_founding_family_on_the_monthly_plan(session, world):
    older, older_stint = student_in(session, world, birth_on=dt.date(2014, 5, 2))
    younger, younger_stint = student_in(session, world, birth_on=dt.date(2017, 9, 9))
    household = family(session, world, older, younger)
    grant(session, household, "founding_family")
    scope = world.scope()

    first = agreements.set_payment_plan(
        session, scope, SetPaymentPlanInput(enrollment_id=older_stint.id, plan_code="monthly"), today=TODAY
    ).preview
    second = agreements.set_payment_plan(
        session, scope, SetPaymentPlanInput(enrollment_id=younger_stint.id, plan_code="monthly"), today=TODAY
    ).preview

    assert lines(first) == [
        ("tuition", 4_000_000),
        ("founding_family", 200_000),
        ("deposit", 50_000),
        ("lunch", 95_000),
    ]
    assert first.total_cents == 3_945_000
    assert [i.amount_cents for i in first.installments] == [439_500] + [389_500] * 9
    assert lines(second) == [
        ("tuition", 4_000_000),
        ("sibling", 400_000),
        ("founding_family", 180_000),
        ("deposit", 50_000),
        ("lunch", 95_000),
    ]
    assert second.total_cents == 3_565_000
    assert [i.amount_cents for i in second.installments] == [401_500] + [351_500] * 9
    due = schedule(session, household.id)
    assert len(due) == 20 and sum(a for _, a in due) == 7_510_000
    # Both plans start on 1 August: their first installments tie on (due_on, seq), in either order.
    assert sorted(due[:2]) == [(dt.date(2026, 8, 1), 401_500), (dt.date(2026, 8, 1), 439_500)]


def test_split_custody_fifty_fifty_on_the_semester_plan(session, world):
    student, stint = student_in(session, world)
    mother = family(session, world, student, share=5_000)
    father = create_household(session, world.campus, {student: 5_000})

    preview = agreements.set_payment_plan(
        session, world.scope(), SetPaymentPlanInput(enrollment_id=stint.id, plan_code="semester"), today=TODAY
    ).preview

    assert preview.total_cents == 4_145_000
    parts = {p.household_id: p for p in preview.households}
    for household in (mother, father):
        assert parts[household.id].share_bp == 5_000
        assert parts[household.id].total_cents == 2_072_500
        assert schedule(session, household.id) == [(dt.date(2026, 8, 1), 1_048_750), (dt.date(2027, 1, 1), 1_023_750)]
    mother_view = ledger.compute_balance(
        session, world.scope(), BalanceInput(household_id=mother.id), today=TODAY
    ).households[0]
    assert mother_view.balance_cents == 1_048_750 and mother_view.next_due_on == dt.date(2027, 1, 1)


def test_mid_year_enrollment_is_prorated_by_months(session, world):
    student, stint = student_in(session, world, start_on=dt.date(2027, 1, 20))
    household = family(session, world, student)

    preview = agreements.set_payment_plan(
        session, world.scope(), SetPaymentPlanInput(enrollment_id=stint.id, plan_code="monthly"), today=TODAY
    ).preview

    assert (preview.billed_months, preview.offering_months) == (4, 10)
    assert lines(preview) == [("tuition", 1_600_000), ("deposit", 50_000), ("lunch", 38_000)]
    assert preview.total_cents == 1_688_000
    assert schedule(session, household.id) == [
        (dt.date(2027, 1, 20), 377_600),
        (dt.date(2027, 2, 1), 327_600),
        (dt.date(2027, 3, 1), 327_600),
        (dt.date(2027, 4, 1), 327_600),
        (dt.date(2027, 5, 1), 327_600),
    ]


def test_withdrawal_with_a_refund(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    scope = world.scope()
    today = dt.date(2027, 1, 20)
    agreements.set_payment_plan(
        session, scope, SetPaymentPlanInput(enrollment_id=stint.id, plan_code="annual"), today=today
    )
    payment = ledger.record_payment(
        session,
        scope,
        RecordPaymentInput(
            household_id=household.id,
            amount_cents=4_145_000,
            method=PaymentMethod.CHECK,
            paid_on=dt.date(2026, 8, 1),
            reference="CHK 2001",
        ),
        today=today,
    )

    enrollment_service.withdraw_enrollment(
        session, scope, WithdrawEnrollmentInput(enrollment_id=stint.id, end_on=dt.date(2027, 1, 15), reason="moved")
    )
    settled = withdrawal.settle_withdrawal(session, scope, stint.id)

    (part,) = settled.households
    assert settled.refund_rule == "standard_withdrawal"
    assert (part.earned_cents, part.unearned_cents, part.refund_bp, part.credit_cents) == (
        2_507_000,
        1_638_000,
        5_000,
        819_000,
    )
    assert part.refund_due_cents == 819_000
    assert withdrawal.settle_withdrawal(session, scope, stint.id) == settled  # running it again changes nothing

    refund = charges.refund_payment(
        session,
        scope,
        RefundPaymentInput(
            payment_id=payment.payment_id, amount_cents=part.refund_due_cents, reason="withdrawal refund"
        ),
        today=today,
        gateway=None,
    )
    assert refund.amount_cents == 819_000 and not refund.through_gateway
    final = ledger.compute_balance(session, scope, BalanceInput(household_id=household.id), today=today).households[0]
    assert (final.charges_cents, final.payments_cents, final.cancellations_cents, final.refunds_cents) == (
        4_145_000,
        4_145_000,
        819_000,
        819_000,
    )
    assert final.balance_cents == 0


def test_withdrawal_on_the_monthly_plan_cancels_the_later_installments(session, world):
    student, stint = student_in(session, world)
    household = family(session, world, student)
    scope = world.scope()
    agreements.set_payment_plan(
        session, scope, SetPaymentPlanInput(enrollment_id=stint.id, plan_code="monthly"), today=TODAY
    )

    enrollment_service.withdraw_enrollment(
        session, scope, WithdrawEnrollmentInput(enrollment_id=stint.id, end_on=dt.date(2026, 11, 20), reason="moved")
    )
    (part,) = withdrawal.settle_withdrawal(session, scope, stint.id).households

    assert part.cancelled_installments == 6 and part.credit_cents == 0
    assert [d for d, _ in schedule(session, household.id)] == [dt.date(2026, m, 1) for m in (8, 9, 10, 11)]
    later = ledger.compute_balance(
        session, scope, BalanceInput(household_id=household.id, as_of=dt.date(2027, 6, 30)), today=TODAY
    ).households[0]
    assert later.balance_cents == sum(a for _, a in schedule(session, household.id))
    assert later.next_due_on is None
    preview = previews.preview_tuition(session, scope, PreviewTuitionInput(enrollment_id=stint.id), today=TODAY)
    assert preview.source == "agreement"
