"""Plan definitions as pricing inputs: a plan whose due months disagree with its count is refused as invalid input."""

from __future__ import annotations

import pytest

from db.models import PaymentPlan
from domain.billing.pricing import plan_term
from domain.errors import InvalidInput


def test_a_plan_reads_as_its_due_month_offsets():
    term = plan_term(
        PaymentPlan(code="semester", name="Semester", installment_count=2, due_month_offsets=[0, 5], due_day=1)
    )

    assert (term.code, term.due_month_offsets, term.due_day) == ("semester", (0, 5), 1)


def test_a_plan_with_fewer_due_months_than_installments_is_invalid_input_not_a_bare_value_error():
    plan = PaymentPlan(code="broken", name="Broken", installment_count=3, due_month_offsets=[0, 5], due_day=1)

    with pytest.raises(InvalidInput, match="plan broken: 3 installments but 2 due months") as refused:
        plan_term(plan)
    assert refused.value.field == "plan_code"
