"""grant_role / revoke_role / list_role_grants: bounded by the granter's own grants, history kept."""

from __future__ import annotations

from sqlalchemy import select

from db.models import DomainEvent, RoleGrant
from policies.principal import load_principal
from tests.integration.access.conftest import call, change_fields, count, keyed, refusal


def new_user(deps, principal, org, email):
    return call(deps, principal, "create_user", email=email, display_name="New Person", org_id=str(org))


def test_director_grants_admissions_at_her_campus_with_change_events_and_an_event(demo_deps, persona, places):
    director = persona("director_miami")
    user = new_user(demo_deps, director, places["miami"], "new.admissions@sis.example")

    grant = call(
        demo_deps, director, "grant_role", user_id=str(user.user_id), role="admissions", org_id=str(places["miami"])
    )

    assert grant.status == "active" and grant.role == "admissions" and grant.org_id == places["miami"]
    assert grant.granted_by_user_id == director.user_id
    assert {"role", "org_id", "user_id", "granted_by_user_id"} <= change_fields(demo_deps, grant.grant_id)
    assert count(demo_deps, DomainEvent, DomainEvent.event_type == "access.role_granted") == 1
    with demo_deps.session_factory() as session:
        principal = load_principal(session, user_id=user.user_id)
    assert principal.roles == ("admissions",)


def test_director_cannot_grant_finance_which_writes_what_she_only_reads(demo_deps, persona, places):
    director = persona("director_miami")
    user = new_user(demo_deps, director, places["miami"], "would.be.finance@sis.example")

    err = refusal(
        demo_deps, director, "grant_role", user_id=str(user.user_id), role="finance", org_id=str(places["miami"])
    )

    assert err.code == "grant_too_wide" and err.field == "role" and "financial write" in err.message
    assert count(demo_deps, RoleGrant, RoleGrant.user_id == user.user_id) == 0


def test_director_cannot_grant_registrar_who_writes_contact_demographics_and_immunizations(demo_deps, persona, places):
    # policy.csv: campus_director reads contact, demographics and immunization records; a registrar writes them.
    director = persona("director_miami")
    user = new_user(demo_deps, director, places["miami"], "would.be.registrar@sis.example")

    err = refusal(
        demo_deps, director, "grant_role", user_id=str(user.user_id), role="registrar", org_id=str(places["miami"])
    )

    assert err.code == "grant_too_wide"
    assert {"contact write", "demographics write", "immunization write"} <= set(
        err.message.split(": it allows ")[1].split(", which")[0].split(", ")
    )


def test_director_cannot_grant_network_admin(demo_deps, persona, places):
    director = persona("director_miami")
    user = new_user(demo_deps, director, places["miami"], "would.be.admin@sis.example")

    err = refusal(
        demo_deps, director, "grant_role", user_id=str(user.user_id), role="network_admin", org_id=str(places["miami"])
    )

    assert err.code == "grant_too_wide"


def test_director_granting_at_another_campus_is_not_found(demo_deps, persona, places):
    director = persona("director_miami")
    user = new_user(demo_deps, director, places["miami"], "someone@sis.example")

    err = refusal(
        demo_deps, director, "grant_role", user_id=str(user.user_id), role="registrar", org_id=str(places["austin"])
    )

    assert err.code == "not_found" and err.field == "org_id"


def test_a_user_outside_the_callers_scope_is_not_found(demo_deps, persona, places):
    admin, director = persona("network_admin"), persona("director_miami")
    austin_user = new_user(demo_deps, admin, places["austin"], "austin.staff@sis.example")

    err = refusal(
        demo_deps,
        director,
        "grant_role",
        user_id=str(austin_user.user_id),
        role="registrar",
        org_id=str(places["miami"]),
    )

    assert err.code == "not_found" and err.field == "user_id"


def test_only_network_admins_grant_at_the_root(demo_deps, persona, places):
    admin = persona("network_admin")
    user = new_user(demo_deps, admin, places["network"], "auditor2@sis.example")
    # The network admin may; a director (no write at the root) gets not-found-or-denied, never a grant.
    grant = call(
        demo_deps, admin, "grant_role", user_id=str(user.user_id), role="auditor", org_id=str(places["network"])
    )
    assert grant.status == "active"
    err = refusal(
        demo_deps,
        persona("director_miami"),
        "grant_role",
        user_id=str(user.user_id),
        role="auditor",
        org_id=str(places["network"]),
    )
    assert err.code in {"not_found", "permission_denied"}


def test_a_role_without_administration_write_is_refused(demo_deps, persona, places):
    for name in ("registrar_austin", "nurse_austin", "auditor_network"):
        err = refusal(
            demo_deps,
            persona(name),
            "grant_role",
            user_id=str(persona("guide_austin").user_id),
            role="guide",
            org_id=str(places["austin"]),
        )
        assert err.code == "permission_denied", name


def test_a_read_only_key_cannot_grant(demo_deps, persona, places):
    admin = keyed(persona("network_admin"))
    err = refusal(
        demo_deps,
        admin,
        "grant_role",
        user_id=str(persona("registrar_austin").user_id),
        role="nurse",
        org_id=str(places["austin"]),
    )
    assert err.code == "permission_denied"


def test_bad_input_is_refused_with_its_field_and_writes_nothing(demo_deps, persona, places):
    admin = persona("network_admin")
    user = new_user(demo_deps, admin, places["austin"], "bad.input@sis.example")
    before = count(demo_deps, RoleGrant)

    unknown = refusal(
        demo_deps, admin, "grant_role", user_id=str(user.user_id), role="wizard", org_id=str(places["austin"])
    )
    guide_at_root = refusal(
        demo_deps, admin, "grant_role", user_id=str(user.user_id), role="guide", org_id=str(places["network"])
    )
    past = refusal(
        demo_deps,
        admin,
        "grant_role",
        user_id=str(user.user_id),
        role="nurse",
        org_id=str(places["austin"]),
        expires_on="2020-01-01",
    )

    assert (unknown.code, unknown.field) == ("invalid_input", "role")
    assert (guide_at_root.code, guide_at_root.field) == ("invalid_input", "org_id")
    assert (past.code, past.field) == ("invalid_input", "expires_on")
    assert count(demo_deps, RoleGrant) == before


def test_a_duplicate_grant_is_refused(demo_deps, persona, places):
    admin = persona("network_admin")
    registrar = persona("registrar_austin")
    err = refusal(
        demo_deps, admin, "grant_role", user_id=str(registrar.user_id), role="registrar", org_id=str(places["austin"])
    )
    assert err.code == "duplicate_record" and err.field == "role"


def test_revoking_keeps_the_row_as_history_and_the_loader_ignores_it(demo_deps, persona, places):
    admin = persona("network_admin")
    registrar = persona("registrar_miami")
    listed = call(demo_deps, admin, "list_role_grants", user_id=str(registrar.user_id))
    (grant,) = listed.items

    revoked = call(demo_deps, admin, "revoke_role", grant_id=str(grant.grant_id), reason="left the school")

    assert revoked.status == "revoked" and revoked.revoked_by_user_id == admin.user_id
    assert "revoked_at" in change_fields(demo_deps, grant.grant_id)
    assert count(demo_deps, RoleGrant, RoleGrant.id == grant.grant_id) == 1
    with demo_deps.session_factory() as session:
        assert load_principal(session, user_id=registrar.user_id).grants == ()
    assert call(demo_deps, admin, "list_role_grants", user_id=str(registrar.user_id)).items == []
    history = call(demo_deps, admin, "list_role_grants", user_id=str(registrar.user_id), include_inactive=True)
    assert [g.status for g in history.items] == ["revoked"]
    again = refusal(demo_deps, admin, "revoke_role", grant_id=str(grant.grant_id), reason="twice")
    assert again.code == "grant_revoked"
    # The role may be granted again: the revoked row does not block it.
    regranted = call(
        demo_deps,
        admin,
        "grant_role",
        user_id=str(registrar.user_id),
        role="registrar",
        org_id=str(places["miami"]),
    )
    assert regranted.grant_id != grant.grant_id


def test_revoking_out_of_scope_is_not_found_and_the_last_admin_stays(demo_deps, persona):
    admin = persona("network_admin")
    with demo_deps.session_factory() as session:
        admin_grant = session.execute(select(RoleGrant.id).where(RoleGrant.user_id == admin.user_id)).scalar_one()
        austin_grant = session.execute(
            select(RoleGrant.id).where(RoleGrant.user_id == persona("registrar_austin").user_id)
        ).scalar_one()

    out_of_scope = refusal(demo_deps, persona("director_miami"), "revoke_role", grant_id=str(austin_grant), reason="x")
    last = refusal(demo_deps, admin, "revoke_role", grant_id=str(admin_grant), reason="oops")

    assert (out_of_scope.code, out_of_scope.field) == ("not_found", "grant_id")
    assert last.code == "last_administrator"


def test_list_role_grants_shows_only_the_callers_scope(demo_deps, persona, places):
    grants = call(demo_deps, persona("director_miami"), "list_role_grants", limit=500).items
    assert grants and {g.org_id for g in grants} == {places["miami"]}
    err = refusal(demo_deps, persona("director_miami"), "list_role_grants", org_id=str(places["austin"]))
    assert err.code == "not_found"
    refused = refusal(demo_deps, persona("nurse_austin"), "list_role_grants")
    assert refused.code == "permission_denied"


def test_director_may_grant_a_guide_at_her_campus(demo_deps, persona, places):
    director = persona("director_miami")
    user = new_user(demo_deps, director, places["miami"], "new.guide@sis.example")

    grant = call(
        demo_deps, director, "grant_role", user_id=str(user.user_id), role="guide", org_id=str(places["miami"])
    )

    assert grant.status == "active" and grant.role == "guide"


def test_an_auditor_reads_grants_without_contact_details(demo_deps, persona):
    grants = call(demo_deps, persona("auditor_network"), "list_role_grants", limit=500).items
    assert grants and all(g.user_email is None for g in grants)
    assert refusal(
        demo_deps, persona("auditor_network"), "revoke_role", grant_id=str(grants[0].grant_id), reason="x"
    ).code == ("permission_denied")
