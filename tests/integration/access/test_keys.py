"""create_api_key / revoke_api_key / list_api_keys: never wider than the owner or the creating key, shown once."""

from __future__ import annotations

from sqlalchemy import select

from db.base import Base
from db.models import ApiKey, ChangeEvent
from mcp_server.auth import AuthenticationFailed
from tests.integration.access.conftest import authenticate, call, change_fields, count, keyed, refusal

FULL = ("sis.read", "sis.write", "audit.read")


def test_network_admin_creates_a_key_for_a_registrar_who_then_acts_as_herself(demo_deps, persona):
    admin, registrar = keyed(persona("network_admin"), FULL), persona("registrar_austin")

    created = call(
        demo_deps,
        admin,
        "create_api_key",
        name="registrar laptop",
        scopes=["sis.read", "sis.write"],
        user_id=str(registrar.user_id),
    )

    assert created.owner_user_id == registrar.user_id and created.api_key.startswith(created.prefix + "_")
    acting = authenticate(demo_deps, created.api_key)
    assert acting.user_id == registrar.user_id and acting.roles == ("registrar",)
    assert call(demo_deps, acting, "whoami").email == registrar.email
    assert {"prefix", "scopes", "user_id", "name"} <= change_fields(demo_deps, created.key_id)


def test_the_plaintext_key_is_stored_in_no_table(demo_deps, persona):
    created = call(
        demo_deps, keyed(persona("network_admin"), FULL), "create_api_key", name="export", scopes=["sis.read"]
    )
    secret = created.api_key.split("_", 3)[3]

    with demo_deps.session_factory() as session:
        hash_value = session.execute(select(ApiKey.secret_hash).where(ApiKey.id == created.key_id)).scalar_one()
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                text = " ".join(str(value) for value in row)
                assert secret not in text, table.name
                if table.name != "api_key":
                    assert hash_value not in text, table.name


def test_a_key_never_has_scopes_the_creating_key_lacks(demo_deps, persona):
    admin = keyed(persona("network_admin"), ("sis.read", "sis.write"))

    err = refusal(demo_deps, admin, "create_api_key", name="wider", scopes=["audit.read"])
    unknown = refusal(demo_deps, admin, "create_api_key", name="odd", scopes=["root"])

    assert (err.code, err.field) == ("invalid_input", "scopes")
    assert (unknown.code, unknown.field) == ("invalid_input", "scopes")
    narrower = call(demo_deps, admin, "create_api_key", name="roster", scopes=["roster.readonly"])
    assert narrower.scopes == ["roster.readonly"]


def test_only_network_admins_create_keys_for_others(demo_deps, persona):
    director = persona("director_miami")
    err = refusal(
        demo_deps,
        director,
        "create_api_key",
        name="for a colleague",
        scopes=["sis.read"],
        user_id=str(persona("registrar_miami").user_id),
    )
    assert err.code == "permission_denied" and err.field == "user_id"
    own = call(demo_deps, persona("nurse_austin"), "create_api_key", name="my laptop", scopes=["sis.read"])
    assert own.owner_user_id == persona("nurse_austin").user_id


def test_a_key_for_someone_out_of_scope_or_an_org_out_of_scope_is_not_found(demo_deps, persona, places):
    nurse = persona("nurse_austin")
    org = refusal(demo_deps, nurse, "create_api_key", name="x", scopes=["sis.read"], org_id=str(places["miami"]))
    who = refusal(
        demo_deps,
        persona("director_miami"),
        "create_api_key",
        name="x",
        scopes=["sis.read"],
        user_id=str(persona("registrar_austin").user_id),
    )
    assert (org.code, org.field) == ("not_found", "org_id")
    assert (who.code, who.field) == ("not_found", "user_id")


def test_a_read_only_key_cannot_create_or_revoke_keys(demo_deps, persona):
    nurse = persona("nurse_austin")
    mine = call(demo_deps, nurse, "create_api_key", name="mine", scopes=["sis.read"])
    before = count(demo_deps, ApiKey)

    create = refusal(demo_deps, keyed(nurse), "create_api_key", name="more", scopes=["sis.read"])
    revoke = refusal(demo_deps, keyed(nurse), "revoke_api_key", key_id=str(mine.key_id))

    assert create.code == revoke.code == "permission_denied"
    assert count(demo_deps, ApiKey) == before


def test_a_revoked_key_is_refused_on_the_next_call_despite_the_verified_memory(demo_deps, persona):
    nurse = persona("nurse_austin")
    created = call(demo_deps, nurse, "create_api_key", name="soon gone", scopes=["sis.read"])
    authenticate(demo_deps, created.api_key)  # remembered now

    revoked = call(demo_deps, nurse, "revoke_api_key", key_id=str(created.key_id), reason="lost laptop")

    assert revoked.revoked_at is not None and "revoked_at" in change_fields(demo_deps, created.key_id)
    try:
        authenticate(demo_deps, created.api_key)
    except AuthenticationFailed as err:
        assert err.code == "api_key_revoked"
    else:
        raise AssertionError("the revoked key was accepted")


def test_revoking_a_key_of_someone_out_of_scope_is_not_found(demo_deps, persona):
    austin_key = call(demo_deps, persona("registrar_austin"), "create_api_key", name="austin", scopes=["sis.read"])
    err = refusal(demo_deps, persona("director_miami"), "revoke_api_key", key_id=str(austin_key.key_id))
    assert (err.code, err.field) == ("not_found", "key_id")
    assert (
        count(
            demo_deps, ChangeEvent, ChangeEvent.entity_id == str(austin_key.key_id), ChangeEvent.field == "revoked_at"
        )
        == 0
    )


def test_list_api_keys_shows_own_and_administered_keys_never_a_secret(demo_deps, persona):
    miami = call(demo_deps, persona("registrar_miami"), "create_api_key", name="miami", scopes=["sis.read"])
    austin = call(demo_deps, persona("registrar_austin"), "create_api_key", name="austin", scopes=["sis.read"])

    listed = call(demo_deps, persona("director_miami"), "list_api_keys").items
    own = call(demo_deps, persona("registrar_austin"), "list_api_keys").items

    assert miami.key_id in {k.key_id for k in listed} and austin.key_id not in {k.key_id for k in listed}
    assert [k.key_id for k in own] == [austin.key_id]
    dumped = str([k.model_dump() for k in listed])
    assert "secret_hash" not in dumped and miami.api_key not in dumped
