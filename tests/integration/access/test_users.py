"""create_user / update_user / deactivate_user: unique normalized emails, scope, and a deactivation that bites."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import ApiKey, DomainEvent, User
from domain.errors import NotFound
from mcp_server.auth import AuthenticationFailed
from policies.principal import load_principal
from tests.integration.access.conftest import authenticate, call, change_fields, count, keyed, refusal


def test_create_user_normalizes_the_email_and_records_changes_and_an_event(demo_deps, persona, places):
    user = call(
        demo_deps,
        persona("director_miami"),
        "create_user",
        email="  New.Teacher@Sis.Example ",
        display_name="Nia Brooks",
        phone="+1 305 555 0101",
        org_id=str(places["miami"]),
        reason="hired",
    )

    assert user.email == "new.teacher@sis.example" and user.kind == "staff" and user.org_id == places["miami"]
    assert {"email", "display_name", "kind", "phone", "org_id", "is_active"} <= change_fields(demo_deps, user.user_id)
    assert count(demo_deps, DomainEvent, DomainEvent.event_type == "access.user_created") == 1


def test_a_duplicate_email_in_any_case_is_refused_naming_the_field(demo_deps, persona, places):
    before = count(demo_deps, User)
    err = refusal(
        demo_deps,
        persona("network_admin"),
        "create_user",
        email="Registrar.Austin@sis.example",
        display_name="Copy",
        org_id=str(places["austin"]),
    )
    assert (err.code, err.field) == ("duplicate_record", "email")
    assert count(demo_deps, User) == before


def test_bad_input_is_refused_with_its_field_and_writes_nothing(demo_deps, persona, places):
    admin, before = persona("network_admin"), count(demo_deps, User)
    email = refusal(
        demo_deps, admin, "create_user", email="not an email", display_name="X", org_id=str(places["austin"])
    )
    phone = refusal(
        demo_deps,
        admin,
        "create_user",
        email="ok@sis.example",
        display_name="X",
        phone="call me",
        org_id=str(places["austin"]),
    )
    kind = refusal(
        demo_deps,
        admin,
        "create_user",
        email="ok@sis.example",
        display_name="X",
        kind="student",
        org_id=str(places["austin"]),
    )
    assert (email.field, phone.field, kind.field) == ("email", "phone", "kind")
    assert {email.code, phone.code, kind.code} == {"invalid_input"}
    assert count(demo_deps, User) == before


def test_create_user_out_of_scope_is_not_found_and_needs_administration_write(demo_deps, persona, places):
    args = {"email": "x@sis.example", "display_name": "X", "org_id": str(places["austin"])}
    assert refusal(demo_deps, persona("director_miami"), "create_user", **args).code == "not_found"
    assert refusal(demo_deps, persona("registrar_austin"), "create_user", **args).code == "permission_denied"
    assert refusal(demo_deps, persona("nurse_austin"), "create_user", **args).code == "permission_denied"
    assert refusal(demo_deps, keyed(persona("network_admin")), "create_user", **args).code == "permission_denied"


def test_update_user_records_the_changed_fields_with_the_reason(demo_deps, persona, places):
    director = persona("director_miami")
    user = call(
        demo_deps, director, "create_user", email="a@sis.example", display_name="A", org_id=str(places["miami"])
    )

    updated = call(
        demo_deps, director, "update_user", user_id=str(user.user_id), display_name="Ana", phone=None, reason="typo"
    )

    assert updated.display_name == "Ana" and updated.phone is None
    assert "display_name" in change_fields(demo_deps, user.user_id)


def test_update_user_out_of_scope_wider_or_empty_is_refused(demo_deps, persona, places):
    director = persona("director_miami")
    austin = refusal(
        demo_deps, director, "update_user", user_id=str(persona("registrar_austin").user_id), display_name="X"
    )
    admin = refusal(demo_deps, director, "update_user", user_id=str(persona("network_admin").user_id), display_name="X")
    wider = refusal(
        demo_deps, director, "update_user", user_id=str(persona("registrar_miami").user_id), display_name="X"
    )
    empty = refusal(demo_deps, persona("network_admin"), "update_user", user_id=str(persona("registrar_miami").user_id))
    taken = refusal(
        demo_deps,
        persona("network_admin"),
        "update_user",
        user_id=str(persona("registrar_miami").user_id),
        email="registrar.austin@sis.example",
    )

    assert (austin.code, austin.field) == ("not_found", "user_id")
    assert admin.code == "not_found"
    assert wider.code == "grant_too_wide"
    assert (empty.code, taken.code, taken.field) == ("invalid_input", "duplicate_record", "email")
    read_only = refusal(
        demo_deps,
        keyed(persona("network_admin")),
        "update_user",
        user_id=str(persona("nurse_austin").user_id),
        display_name="X",
    )
    assert read_only.code == "permission_denied"


def test_deactivating_a_user_refuses_their_key_at_once_and_their_session(demo_deps, persona):
    admin, nurse = persona("network_admin"), persona("nurse_austin")
    key = call(demo_deps, nurse, "create_api_key", name="laptop", scopes=["sis.read"])
    authenticate(demo_deps, key.api_key)  # remembered by the app

    user = call(demo_deps, admin, "deactivate_user", user_id=str(nurse.user_id), reason="left the school")

    assert user.is_active is False and "is_active" in change_fields(demo_deps, nurse.user_id)
    with pytest.raises(AuthenticationFailed):  # the key, although the app remembered it
        authenticate(demo_deps, key.api_key)
    with demo_deps.session_factory() as session:
        assert session.execute(select(ApiKey.revoked_at).where(ApiKey.id == key.key_id)).scalar_one() is not None
        with pytest.raises(NotFound):  # nor can the user sign in
            load_principal(session, user_id=nurse.user_id)
    again = refusal(demo_deps, admin, "deactivate_user", user_id=str(nurse.user_id), reason="twice")
    assert again.code == "user_inactive"


def test_deactivate_refuses_yourself_out_of_scope_and_wider(demo_deps, persona):
    admin, director = persona("network_admin"), persona("director_miami")
    me = refusal(demo_deps, admin, "deactivate_user", user_id=str(admin.user_id), reason="x")
    austin = refusal(demo_deps, director, "deactivate_user", user_id=str(persona("nurse_austin").user_id), reason="x")
    wider = refusal(demo_deps, director, "deactivate_user", user_id=str(persona("registrar_miami").user_id), reason="x")
    registrar = refusal(
        demo_deps,
        persona("registrar_austin"),
        "deactivate_user",
        user_id=str(persona("nurse_austin").user_id),
        reason="x",
    )
    assert (me.code, austin.code, wider.code, registrar.code) == (
        "permission_denied",
        "not_found",
        "grant_too_wide",
        "permission_denied",
    )
