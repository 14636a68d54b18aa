"""Household record routes: create households, guardians and members; students' emergency contacts.

`DELETE /households/{household_id}/students/{student_id}` takes reason and purpose as query
parameters. A student who keeps other households and whose share here is not 0 needs new
shares: move this household's share to the others first (`PUT /students/{id}/billing-shares`),
or call `POST /tools/remove_student_from_household` with `shares` in its body.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from domain.household.schemas import HouseholdRead
from mcp_server.rest import idempotency
from mcp_server.rest.core import call, principal_dependency, spec_of, tool_route
from mcp_server.rest.errors import ERROR_RESPONSES, ApiError, ErrorBody
from policies.principal import Principal
from tools.runner import Deps


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register the household record routes."""
    tool_route(router, deps, "POST", "/households", "create_household", status_code=201, idempotent_key=True)
    tool_route(
        router,
        deps,
        "POST",
        "/households/{household_id}/guardians",
        "add_guardian",
        status_code=201,
        idempotent_key=True,
    )
    tool_route(router, deps, "DELETE", "/households/{household_id}/guardians/{user_id}", "remove_guardian")
    tool_route(
        router,
        deps,
        "POST",
        "/households/{household_id}/students",
        "add_student_to_household",
        status_code=201,
        idempotent_key=True,
    )
    tool_route(router, deps, "GET", "/students/{student_id}/emergency-contacts", "get_emergency_contacts")
    tool_route(router, deps, "PUT", "/students/{student_id}/emergency-contacts", "set_emergency_contacts")
    _remove_student_route(router, deps)


def _remove_student_route(router: APIRouter, deps: Deps) -> None:
    """DELETE of a membership: the tool's path ids plus reason and purpose (a query has no room for a shares map)."""
    spec = spec_of("remove_student_from_household")

    def remove_student_from_household(
        principal: Annotated[Principal, Depends(principal_dependency(deps))],
        request: Request,
        household_id: Annotated[uuid.UUID, Path(description="The household (from get_household).")],
        student_id: Annotated[uuid.UUID, Path(description="The student to remove (from get_household).")],
        reason: Annotated[str | None, Query(max_length=300, description="Why the student leaves (audit).")] = None,
        purpose: Annotated[str | None, Query(max_length=300, description="Why you ask (query log).")] = None,
        idempotency_key: idempotency.KeyHeader = None,
    ) -> Any:
        arguments = {"household_id": str(household_id), "student_id": str(student_id)}
        arguments |= {k: v for k, v in (("reason", reason), ("purpose", purpose)) if v is not None}

        def answer() -> tuple[int, Any]:
            try:
                return 200, call(deps, principal, spec.name, arguments).data
            except ApiError as err:  # a refusal is an answer too: a retry gets it again
                return err.status, ErrorBody(error=err.detail).model_dump(mode="json")

        return idempotency.respond_once(deps, principal, idempotency_key, request, arguments, answer)

    router.add_api_route(
        "/households/{household_id}/students/{student_id}",
        remove_student_from_household,
        methods=["DELETE"],
        operation_id=spec.name,
        summary=spec.title,
        description=spec.description,
        response_model=HouseholdRead,
        responses=ERROR_RESPONSES,
    )
