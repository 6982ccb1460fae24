"""Roles as a person would meet them: a key or a member acts with its role in its workspace, a
refusal says what the role may do, another workspace's objects stay 404, and every change is
in the audit log with its actor."""

from __future__ import annotations

from sqlalchemy import select

from openqr.assistant.server import build_server
from openqr.auth import keys
from openqr.auth.roles import MAY
from openqr.auth.workspaces import first_workspace
from openqr.extensions import db
from openqr.models import Account, AuditEntry, Code, Membership
from tests.conftest import Api, new_key, sign_in
from tests.support import aio


def _member(app, email: str, workspace_id: int, role: str) -> None:
    with app.app_context():
        account = Account(email=email)
        db.session.add(account)
        db.session.flush()
        db.session.add(Membership(workspace_id=workspace_id, account_id=account.id, role=role))
        db.session.commit()


def _key(app, email: str, role: str, maker: str | None = None) -> str:
    """A key of `email`'s first workspace acting with `role`, made by `maker` (default: `email`)."""
    with app.app_context():
        owner = db.session.execute(select(Account).where(Account.email == email)).scalar_one()
        made_by = db.session.execute(select(Account).where(Account.email == (maker or email))).scalar_one()
        _key, plain = keys.create_key(first_workspace(owner), role, role=role, created_by=made_by)
        return plain


def _workspace_id(app, email: str) -> int:
    with app.app_context():
        account = db.session.execute(select(Account).where(Account.email == email)).scalar_one()
        return first_workspace(account).id


def test_a_viewer_key_reads_but_every_change_is_a_403_that_says_what_it_may_do(app, client, api):
    code = api.create()
    viewer = Api(client, _key(app, "owner@example.com", "viewer"))
    assert viewer.get(f"/v1/dynamic/{code['id']}").status_code == 200
    assert viewer.get("/v1/scans").status_code == 200
    assert viewer.get(f"/v1/dynamic/{code['id']}/qr?format=svg").status_code == 200
    refused = viewer.patch(f"/v1/dynamic/{code['id']}", json={"destination": "https://example.com/x"})
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "forbidden", "message": MAY["viewer"]}
    assert viewer.post("/v1/dynamic", json={"destination": "https://example.com/"}).status_code == 403
    assert viewer.delete(f"/v1/dynamic/{code['id']}").status_code == 403
    assert api.get(f"/v1/dynamic/{code['id']}").get_json()["destination"] == code["destination"]


def test_another_workspaces_code_is_404_whatever_the_role(app, client, api, other_api):
    theirs = other_api.create()
    viewer = Api(client, _key(app, "owner@example.com", "viewer"))
    assert viewer.delete(f"/v1/dynamic/{theirs['id']}").status_code == 404
    assert viewer.patch(f"/v1/dynamic/{theirs['id']}", json={"label": "x"}).status_code == 404
    assert api.delete(f"/v1/dynamic/{theirs['id']}").status_code == 404
    assert other_api.get(f"/v1/dynamic/{theirs['id']}").status_code == 200


def test_an_editor_changes_codes_but_not_webhooks(app, client, api):
    editor = Api(client, _key(app, "owner@example.com", "editor"))
    made = editor.create()
    assert editor.patch(f"/v1/dynamic/{made['id']}", json={"label": "Menu"}).status_code == 200
    hook = editor.post("/v1/webhooks", json={"url": "https://hooks.example.com/x", "events": ["scan"]})
    assert hook.status_code == 403 and hook.get_json()["message"] == MAY["editor"]
    assert editor.get("/v1/webhooks").status_code == 403


def test_a_key_never_acts_above_its_maker_and_leaves_with_them(app, client, api):
    workspace_id = _workspace_id(app, "owner@example.com")
    _member(app, "manager@example.com", workspace_id, "admin")
    admin_key = Api(client, _key(app, "owner@example.com", "admin", maker="manager@example.com"))
    assert admin_key.get("/v1/webhooks").status_code == 200
    with app.app_context():
        row = db.session.execute(select(Membership).where(Membership.role == "admin")).scalar_one()
        row.role = "viewer"
        db.session.commit()
    assert admin_key.get("/v1/webhooks").status_code == 403  # the maker is a viewer now
    assert admin_key.post("/v1/dynamic", json={"destination": "https://example.com/"}).status_code == 403
    with app.app_context():
        viewer = db.session.execute(select(Membership).where(Membership.role == "viewer")).scalar_one()
        db.session.delete(viewer)
        db.session.commit()
    assert admin_key.get("/v1/dynamic").status_code == 401  # the maker left: the key went with them


def test_every_change_is_audited_with_its_actor_and_a_codes_history_names_it(app, client, api):
    code = api.create()
    api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "https://example.com/new"})
    api.post("/v1/folders", json={"name": "Menus"})
    with app.app_context():
        entries = db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        actions = [(e.action, e.actor["type"]) for e in entries]
        prefix = entries[-1].actor["prefix"]
    assert ("code.created", "key") in actions and ("code.updated", "key") in actions
    assert ("folder.created", "key") in actions
    history = api.get(f"/v1/dynamic/{code['id']}/history").get_json()["history"]
    assert history[0]["actor"] == {"type": "key", "prefix": prefix, "name": "test"}


def test_a_refused_change_records_nothing(app, client, api):
    code = api.create()
    with app.app_context():
        before = db.session.query(AuditEntry).count()
    assert api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "not a url"}).status_code == 400
    with app.app_context():
        assert db.session.query(AuditEntry).count() == before


def test_a_viewer_in_the_dashboard_sees_pages_and_a_forged_post_is_403_changing_nothing(web_app):
    app, client = web_app, web_app.test_client()
    code = Api(client, new_key(app)).create()
    workspace_id = _workspace_id(app, "owner@example.com")
    _member(app, "reader@example.com", workspace_id, "viewer")
    sign_in(client, app, "reader@example.com")
    assert client.get("/codes").status_code == 200
    assert code["slug"] in client.get("/codes").get_data(as_text=True)
    forged = client.post(f"/codes/{code['id']}/delete")
    assert forged.status_code == 403
    assert MAY["viewer"] in forged.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Code, code["id"]) is not None
    assert client.get("/webhooks").status_code == 403


def test_an_mcp_tool_acts_with_its_keys_role(app, api):
    code = api.create()
    viewer = _key(app, "owner@example.com", "viewer")
    server = build_server(app, lambda _ctx: keys.authenticate(viewer))

    async def go():
        from mcp import Client

        async with Client(server) as client:
            read = await client.call_tool("get_code", {"id": code["id"]})
            write = await client.call_tool("create_code", {"destination": "https://example.com/"})
            gone = await client.call_tool("delete_code", {"id": "0" * 16})
            return read, write, gone

    read, write, gone = aio.run(go)
    assert not read.is_error
    assert write.is_error and write.structured_content["error"] == "forbidden"
    assert gone.is_error and gone.structured_content["error"] == "not_found"


def test_cli_keys_create_takes_a_role_and_refuses_one_above_the_persons(app, runner):
    made = runner.invoke(args=["keys", "create", "boss@example.com", "--role", "viewer"])
    assert made.exit_code == 0, made.output
    plain = made.output.strip().splitlines()[-1]
    with app.app_context():
        assert keys.authenticate(plain).role == "viewer"
    workspace_id = _workspace_id(app, "boss@example.com")
    _member(app, "helper@example.com", workspace_id, "editor")
    refused = runner.invoke(args=["keys", "create", "helper@example.com", "--role", "admin"])
    assert refused.exit_code != 0 and "editor" in refused.output
    elsewhere = runner.invoke(args=["keys", "create", "helper@example.com", "--workspace", "999999"])
    assert elsewhere.exit_code != 0 and "not a member" in elsewhere.output
