"""The rules of a dynamic code: validation, create, edit, delete, list. API and dashboard share them."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping

from blinker import Namespace
from flask import current_app
from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import audit, destinations
from ..destinations import DestinationError, check_destination
from ..errors import Conflict, NotFound, ValidationError, rolls_back
from ..extensions import db
from ..images import http as qr_http
from ..images import render as qr
from ..models import (
    ID,
    Code,
    CodeTag,
    DestinationChange,
    Folder,
    Workspace,
    find_owned,
    new_id,
    utcnow,
)
from ..ops import ratelimit
from ..scans import analytics
from ..scans import store as scans
from ..services import current_services
from ..text import CONTROL_CLASS, PLAIN_TEXT, anchored, closed, has_control, iso_z, nullable, timestamp_schema
from ..webhooks import outbox as webhooks
from . import smart
from .filters import MAX_FILTER_LENGTH as MAX_FILTER_LENGTH  # the lists' limit, beside the others
from .filters import MAX_TAG_LENGTH, fold_tag

# Sent after a commit that changed what these slugs resolve to; the redirect's link table
# listens (the codes area announces, it does not know who follows).
slugs_changed_signal = Namespace().signal("openqr.slugs-changed")


def slugs_changed(*slugs: str) -> None:
    slugs_changed_signal.send(current_app._get_current_object(), slugs=slugs)


RANDOM_SLUG_ALPHABET = string.ascii_letters + string.digits
RANDOM_SLUG_LENGTH = 7
CUSTOM_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MIN_LENGTH = 3
SLUG_MAX_LENGTH = 48
# Any stored slug: a custom one, or a random one of RANDOM_SLUG_LENGTH letters and digits.
ANY_SLUG = re.compile(f"[A-Za-z0-9-]{{{SLUG_MIN_LENGTH},{SLUG_MAX_LENGTH}}}")
STATUSES = ("active", "disabled")  # what the operator sets
SHOWN_STATUSES = ("active", "ended", "disabled")  # what a code's JSON says (ended: expired or capped)
# GET /v1/dynamic and the dashboard's list: how many codes per call, and how far one may skip.
LIST_DEFAULT = 200
LIST_MAX = 500
OFFSET_MAX = 10_000_000
MAX_TAGS = 10
TAG_TEXT = re.compile(f"[^,{CONTROL_CLASS}]*")  # a tag holds no comma and no control character
MAX_LABEL_LENGTH = 200
MAX_BULK = 200
EDITABLE_FIELDS = ("destination", "label", "slug", "tags", "folder_id", "style", *smart.SMART_FIELDS)


def reserved_slugs() -> frozenset[str]:
    """First path segments the app itself routes: never usable as slugs."""
    found = current_services()
    cached = found.reserved_slugs
    if cached is None:
        segments = {rule.rule.lstrip("/").split("/", 1)[0] for rule in current_app.url_map.iter_rules()}
        extra = {
            "v1",
            "v2",
            "api",
            "admin",
            "login",
            "logout",
            "static",
            "codes",
            "keys",
            "folders",
            "docs",
            "healthz",
            "mcp",  # the assistants' endpoint, answered in front of Flask (openqr/assistant)
            "bulk",
            "account",
            "settings",
            "favicon.ico",
            "robots.txt",
        }
        cached = frozenset(s.lower() for s in segments | extra if s and not s.startswith("<"))
        found.reserved_slugs = cached
    return cached


# --- validators: each returns the clean value or raises ValidationError naming the field ---


def clean_destination(value: object, field: str = "destination") -> str:
    """A URL through the destination guard; errors name `field` (destination, rules, split...)."""
    if not isinstance(value, str) or not value:
        raise ValidationError(
            "Destination is required: a public http(s) URL."
            if field == "destination"
            else f"Every URL in {field} must be a public http(s) URL.",
            field=field,
            code="invalid_destination",
        )
    config = current_app.config
    try:
        return check_destination(
            value,
            own_hosts=config["OPENQR_OWN_HOSTS"],
            blocked_domains=config.get("OPENQR_BLOCKED_DOMAINS", frozenset()),
            resolve=config.get("OPENQR_RESOLVE_DESTINATIONS", False),
        )
    except DestinationError as err:
        raise ValidationError(str(err), field=field, code="invalid_destination") from None


def clean_label(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("Label must be a string or null.", field="label")
    value = value.strip()
    if has_control(value):
        raise ValidationError("Label must not contain control characters.", field="label")
    if len(value) > MAX_LABEL_LENGTH:
        raise ValidationError(f"Label must be at most {MAX_LABEL_LENGTH} characters.", field="label")
    return value or None


def clean_slug(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("Slug must be a string.", field="slug", code="invalid_slug")
    if not SLUG_MIN_LENGTH <= len(value) <= SLUG_MAX_LENGTH:
        raise ValidationError(
            f"Slug must be {SLUG_MIN_LENGTH} to {SLUG_MAX_LENGTH} characters long.",
            field="slug",
            code="invalid_slug",
        )
    if not CUSTOM_SLUG.fullmatch(value):
        raise ValidationError(
            "Slug may use only lower-case letters, digits and single hyphens (not at the start or end).",
            field="slug",
            code="invalid_slug",
        )
    if value in reserved_slugs():
        raise ValidationError(
            f"'{value}' is reserved by the app; choose another slug.", field="slug", code="invalid_slug"
        )
    return value


def clean_tags(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError("Tags must be a list of strings.", field="tags")
    tags: list[str] = []
    for raw in value:
        tag = fold_tag(raw)
        if not tag:
            raise ValidationError("Tags must not be empty.", field="tags")
        if len(tag) > MAX_TAG_LENGTH or not TAG_TEXT.fullmatch(tag):
            raise ValidationError(
                f"Each tag is at most {MAX_TAG_LENGTH} characters, without commas.", field="tags"
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A code has at most {MAX_TAGS} tags.", field="tags")
    return tags


def clean_folder_id(workspace: Workspace, value: object) -> str | None:
    if value is None:
        return None
    if find_owned(Folder, workspace.id, value) is None:
        raise ValidationError("No such folder.", field="folder_id", code="invalid_folder")
    return value


def clean_style(value: object) -> dict:
    try:
        return qr.validate_style(value)
    except qr.Unscannable as err:
        raise ValidationError(err.message, field="style", code="unscannable") from None
    except qr.QrParamError as err:
        raise ValidationError(str(err), field=err.field, code="invalid_style") from None


def clean_fields(workspace: Workspace, data: object, *, creating: bool) -> dict:
    """Validate a create or patch body; return only the fields present, cleaned."""
    if not isinstance(data, Mapping):
        raise ValidationError("The body must be a JSON object.")
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError(f"Unknown field: {unknown[0]}.", field=unknown[0], code="unknown_field")
    if creating and "destination" not in data:
        raise ValidationError(
            "Destination is required: a public http(s) URL.", field="destination", code="invalid_destination"
        )
    cleaners = {
        "destination": clean_destination,
        "label": clean_label,
        "tags": clean_tags,
        "style": clean_style,
        "folder_id": lambda value: clean_folder_id(workspace, value),
        # A null slug on create means "pick one for me".
        "slug": lambda value: None if (creating and value is None) else clean_slug(value),
    }
    now = utcnow()
    for name in smart.SMART_FIELDS:
        cleaners[name] = lambda value, name=name: smart.clean_smart_field(name, value, clean_destination, now)
    return {name: cleaners[name](data[name]) for name in EDITABLE_FIELDS if name in data}


def field_schemas() -> dict:
    """The body fields `clean_fields` takes, as JSON Schema (`null` clears a field where it may)."""
    fields = {
        "destination": {
            **destinations.url_schema(destinations.RULES),
            "examples": ["https://example.com/spring-launch"],
        },
        "label": {
            "type": ["string", "null"],
            "maxLength": MAX_LABEL_LENGTH,
            "pattern": anchored(PLAIN_TEXT),
            "description": "Internal name (trimmed; blank means none). `null` clears it.",
        },
        "slug": {
            "type": "string",
            "minLength": SLUG_MIN_LENGTH,
            "maxLength": SLUG_MAX_LENGTH,
            "pattern": anchored(CUSTOM_SLUG),
            "description": "Custom back-half: lower-case letters, digits, single inner hyphens; not a word "
            "the app routes (`v1`, `docs`, `login`...).",
        },
        "tags": {
            "type": "array",
            "items": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_TAG_LENGTH,
                "pattern": anchored(TAG_TEXT),
            },
            "maxItems": MAX_TAGS,
            "description": f"Lower-cased, whitespace collapsed, de-duplicated; at most {MAX_TAGS}. "
            "Replaces the existing set.",
        },
        "folder_id": {"type": ["string", "null"], "description": "A folder of this workspace, or `null`."},
        "style": qr.style_schema(),
        **smart.field_schemas(),
    }
    return {name: fields[name] for name in EDITABLE_FIELDS}


def create_schema() -> dict:
    """The body of `create_code`: a destination at least; a `null` slug means a random one."""
    fields = field_schemas()
    fields["slug"] = nullable(fields["slug"])
    return closed(fields, ["destination"], "A `null` or missing slug picks a random one.")


def patch_schema() -> dict:
    """The body of `update_code`: any of the fields."""
    return closed(field_schemas(), [], "Only the fields sent change; unknown fields are a 400.")


def bulk_schema() -> dict:
    """The body of `bulk_create`: 1..MAX_BULK creates."""
    item = create_schema()["properties"]
    codes = {"type": "array", "minItems": 1, "maxItems": MAX_BULK, "items": closed(item, ["destination"])}
    return closed({"codes": codes})


def _set_smart(code: Code, fields: dict) -> None:
    """Apply the smart fields present in `fields` (a list is replaced whole, None clears)."""
    changes = {name: fields[name] for name in smart.SMART_FIELDS if name in fields}
    if changes:
        code.smart = smart.merged(code.smart, changes)
        code.next_change_at = smart.next_change(code.smart)


def record_change(code: Code, source: str, at=None) -> None:
    """Note a change of the code's destination (creation included) in its history."""
    if source not in smart.HISTORY_SOURCES:
        raise ValueError(f"unknown history source {source!r}")
    db.session.add(
        DestinationChange(
            code_id=code.id,
            at=at or utcnow(),
            destination=code.destination,
            source=source,
            actor=audit.current_actor(),
        )
    )


# --- operations ---


def _random_slug() -> str:
    return "".join(secrets.choice(RANDOM_SLUG_ALPHABET) for _ in range(RANDOM_SLUG_LENGTH))


def _slug_taken(slug: str) -> bool:
    return db.session.execute(select(exists().where(Code.slug == slug))).scalar()


def _free_random_slug(avoid: set[str]) -> str:
    while True:
        slug = _random_slug()
        if slug not in avoid and slug.lower() not in reserved_slugs() and not _slug_taken(slug):
            return slug


def _new_code(workspace: Workspace, fields: dict, taken: set[str]) -> Code:
    slug = fields.get("slug") or _free_random_slug(taken)
    taken.add(slug)
    code = Code(
        id=new_id(),
        workspace_id=workspace.id,
        slug=slug,
        destination=fields["destination"],
        label=fields.get("label"),
        folder_id=fields.get("folder_id"),
        style=fields.get("style") or {},
    )
    code.tag_rows = [CodeTag(tag=tag, position=i) for i, tag in enumerate(fields.get("tags") or [])]
    _set_smart(code, fields)
    return code


def _commit_or_conflict(
    slug_hint: str | None = None, event: tuple | None = None, details: dict | None = None
) -> None:
    """Commit; a slug taken meanwhile is a Conflict. `event` = (workspace id, kind, codes) goes to the
    webhook outbox and the audit log (with `details`) in the same transaction (its flush can meet
    the same race, so it is inside)."""
    try:
        if event:
            webhooks.code_changed(*event, code_json)
            _audit(*event, details)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        message = f"The slug '{slug_hint}' is already taken." if slug_hint else "That slug is already taken."
        raise Conflict(message, field="slug") from None


def _audit(workspace_id: int, kind: str, codes: list[Code], details: dict | None = None) -> None:
    """One audit entry per code: `code.created`, `code.updated` or `code.deleted`, as webhooks name them."""
    db.session.flush()  # new codes get their ids
    for code in codes:
        audit.record(workspace_id, kind, "code", code.id, {"slug": code.slug, **(details or {})})


@rolls_back
def create_code(workspace: Workspace, data: object, *, source: str = "api") -> tuple[Code, ratelimit.Budget]:
    """Create one code, counting it against the hourly single-create limit; `source` names who
    made it in the destination history (api, dashboard, mcp, cli)."""
    fields = clean_fields(workspace, data, creating=True)
    if fields.get("slug") and _slug_taken(fields["slug"]):
        raise Conflict(f"The slug '{fields['slug']}' is already taken.", field="slug")
    code = _new_code(workspace, fields, set())
    prove_style(code)
    budget = ratelimit.consume(f"create:{workspace.id}", current_app.config["OPENQR_CREATE_LIMIT"])
    db.session.add(code)
    record_change(code, source)
    _commit_or_conflict(fields.get("slug"), (workspace.id, "code.created", [code]))
    return code, budget


def check_bulk_count(count: int) -> None:
    """How many codes one bulk create takes (the API's, the tools' and the dashboard's rule)."""
    if not 1 <= count <= MAX_BULK:
        raise ValidationError(
            f"A bulk create takes 1 to {MAX_BULK} codes; this one has {count}.", field="codes"
        )


def check_bulk_items(workspace: Workspace, items: list) -> tuple[list[dict], list[dict]]:
    """Check every item as a create would, plus slugs repeated in the list or already taken.

    Returns the cleaned fields of all items and one problem per bad item (`index`, `field`,
    `error`, `message`); the bulk API and the dashboard's preview both show these.
    """
    cleaned, problems, seen = [], [], {}
    for index, item in enumerate(items):
        try:
            fields = clean_fields(workspace, item, creating=True)
            slug = fields.get("slug")
            if slug and slug in seen:
                raise Conflict(f"The slug '{slug}' is repeated (item {seen[slug]}).", field="slug")
            if slug and _slug_taken(slug):
                raise Conflict(f"The slug '{slug}' is already taken.", field="slug")
            if slug:
                seen[slug] = index
            cleaned.append(fields)
        except (ValidationError, Conflict) as err:
            problems.append(err.problem(index))
    return cleaned, problems


def _invalid_items(problems: list[dict], count: int) -> ValidationError:
    return ValidationError(
        f"{len(problems)} of {count} codes are invalid; nothing was created.",
        code="invalid_items",
        details=problems,
    )


@rolls_back
def bulk_create(workspace: Workspace, data: object, *, source: str = "api") -> list[Code]:
    """Create 1..200 codes, all or nothing; errors list every bad item by index."""
    if not isinstance(data, Mapping) or set(data) != {"codes"} or not isinstance(data["codes"], list):
        raise ValidationError('The body must be {"codes": [ ... ]}.', field="codes")
    items = data["codes"]
    check_bulk_count(len(items))
    cleaned, problems = check_bulk_items(workspace, items)
    if problems:
        raise _invalid_items(problems, len(items))
    taken = {fields["slug"] for fields in cleaned if fields.get("slug")}
    codes = [_new_code(workspace, fields, taken) for fields in cleaned]
    problems = []
    for index, code in enumerate(codes):
        try:
            prove_style(code)
        except ValidationError as err:
            problems.append(err.problem(index))
    if problems:
        raise _invalid_items(problems, len(items))
    ratelimit.consume(f"bulk:{workspace.id}", current_app.config["OPENQR_BULK_LIMIT"])
    db.session.add_all(codes)
    for code in codes:
        record_change(code, source)
    _commit_or_conflict(event=(workspace.id, "code.created", codes))
    return codes


def get_code(workspace: Workspace, code_id: str) -> Code:
    code = find_owned(Code, workspace.id, code_id)
    if code is None:
        raise NotFound("No such code.")
    if code.next_change_at is not None and code.next_change_at <= utcnow():
        apply_due_schedule(code.id)  # reads see the schedule's changes even before the runner's pass
        db.session.refresh(code)
    return code


@rolls_back
def update_code(workspace: Workspace, code_id: str, data: object, *, source: str = "api") -> Code:
    """Apply a patch: only the fields sent change. A new destination is noted in the history
    with `source` (api, dashboard, mcp, cli)."""
    code = get_code(workspace, code_id)
    if isinstance(data, Mapping) and data.get("slug") == code.slug:
        # Its own slug is no change, even a random one that the custom-slug rule would refuse.
        data = {name: value for name, value in data.items() if name != "slug"}
    fields = clean_fields(workspace, data, creating=False)
    old_slug = code.slug
    if "slug" in fields and fields["slug"] != code.slug and _slug_taken(fields["slug"]):
        raise Conflict(f"The slug '{fields['slug']}' is already taken.", field="slug")
    moved = "destination" in fields and fields["destination"] != code.destination
    for name in ("destination", "label", "slug", "folder_id", "style"):
        if name in fields:
            setattr(code, name, fields[name])
    _set_smart(code, fields)
    if "style" in fields or code.slug != old_slug:
        prove_style(code)
    if moved:
        record_change(code, source)
    if "tags" in fields:
        code.tag_rows = []
        db.session.flush()
        code.tag_rows = [CodeTag(tag=tag, position=i) for i, tag in enumerate(fields["tags"])]
    code.updated_at = utcnow()
    _commit_or_conflict(
        fields.get("slug"), (workspace.id, "code.updated", [code]), {"fields": sorted(fields)}
    )
    slugs_changed(old_slug, code.slug)
    return code


def apply_due_schedule(code_id: str, now=None) -> bool:
    """Make the code's due schedule entries its destination, exactly once across processes.

    The UPDATE only matches while `next_change_at` is still what this process read, so of two
    processes applying the same entry one changes the row (and writes the history) and the
    other changes nothing. Returns whether this call applied anything.
    """
    now = now or utcnow()
    code = db.session.get(Code, code_id, populate_existing=True)
    if code is None or code.next_change_at is None or code.next_change_at > now:
        return False
    destination, fields, applied = smart.due_entries(code.smart, code.destination, now)
    result = db.session.execute(
        update(Code)
        .where(Code.id == code.id, Code.next_change_at == code.next_change_at)
        .values(
            destination=destination, smart=fields, next_change_at=smart.next_change(fields), updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1 or not applied:
        db.session.rollback()
        return False
    for entry in applied:
        at = smart.parse_utc(entry["at"], "schedule")
        db.session.add(
            DestinationChange(
                code_id=code.id,
                at=at,
                destination=entry["destination"],
                source="schedule",
                actor=audit.SCHEDULE,
            )
        )
    with audit.acting(audit.SCHEDULE):
        _audit(code.workspace_id, "code.updated", [code], {"fields": ["destination"]})
    slug = code.slug
    db.session.commit()
    slugs_changed(slug)
    return True


def apply_all_due_schedules(now=None) -> int:
    """Apply every code's due schedule entries (the background step each process runs)."""
    now = now or utcnow()
    due = db.session.execute(select(Code.id).where(Code.next_change_at <= now)).scalars().all()
    db.session.rollback()  # end the read so each code's change is its own short transaction
    return sum(apply_due_schedule(code_id, now) for code_id in due)


def history(workspace: Workspace, code_id: str) -> list[dict]:
    """Every change of the code's destination, newest first."""
    code = get_code(workspace, code_id)
    rows = db.session.execute(
        select(DestinationChange)
        .where(DestinationChange.code_id == code.id)
        .order_by(DestinationChange.at.desc(), DestinationChange.id.desc())
    ).scalars()
    return [
        {"at": iso_z(row.at), "destination": row.destination, "source": row.source, "actor": row.actor}
        for row in rows
    ]


def status_of(code: Code, scans: int | None = None) -> str:
    """active, ended (expired or its scan cap reached) or disabled (by the operator).

    `scans` is the code's stored scan count; it is read from the roll-ups when needed and not given.
    """
    if code.status != "active":
        return code.status
    plan = smart.compile_plan(code.smart)
    if plan is None:
        return "active"
    if plan.max_scans is not None and scans is None:
        scans = analytics.stored_scans([code.id])[code.id]
    now = utcnow().replace(tzinfo=smart.dt.UTC).timestamp()
    return "ended" if smart.has_ended(plan, now, scans or 0) else "active"


def find_by_slug(slug: str) -> Code:
    """Any workspace's code by its slug (operator tools); raises NotFound."""
    code = db.session.execute(select(Code).where(Code.slug == slug)).scalar_one_or_none()
    if code is None:
        raise NotFound(f"No code with slug {slug}.")
    return code


@rolls_back
def set_status(code: Code, status: str) -> Code:
    """Switch a code on (`active`) or off (`disabled`: its link answers 410 and counts nothing)."""
    if status not in STATUSES:
        raise ValidationError(f"Status must be one of: {', '.join(STATUSES)}.", field="status")
    code.status = status
    code.updated_at = utcnow()
    webhooks.code_changed(code.workspace_id, "code.updated", [code], code_json)
    _audit(code.workspace_id, "code.updated", [code], {"status": status})
    db.session.commit()
    slugs_changed(code.slug)
    return code


def set_destination(code: Code, url: str, *, source: str) -> Code:
    """Point a code somewhere else on behalf of its owner (operator tools), as a PATCH would."""
    return update_code(
        db.session.get(Workspace, code.workspace_id), code.id, {"destination": url}, source=source
    )


def delete_code(workspace: Workspace, code_id: str) -> None:
    code = get_code(workspace, code_id)
    slug = code.slug
    webhooks.code_changed(workspace.id, "code.deleted", [code], code_json)  # the outbox, same transaction
    _audit(workspace.id, "code.deleted", [code])
    scans.forget_code(code)
    db.session.delete(code)
    db.session.commit()
    slugs_changed(slug)


def list_codes(
    workspace: Workspace,
    *,
    limit: int = LIST_DEFAULT,
    offset: int = 0,
    tag: str | None = None,
    folder_id: str | None = None,
    q: str | None = None,
) -> list[Code]:
    """The workspace's codes, newest first, narrowed by filters as `filters.clean_filter` reads them."""
    query = (
        select(Code)
        .where(Code.workspace_id == workspace.id)
        .options(selectinload(Code.tag_rows))
        .order_by(Code.created_at.desc(), Code.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if tag:
        query = query.where(exists().where(CodeTag.code_id == Code.id, CodeTag.tag == tag))
    if folder_id:
        query = query.where(Code.folder_id == folder_id)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(*(column.ilike(pattern, escape="\\") for column in (Code.label, Code.slug, Code.destination)))
        )
    found = list(db.session.execute(query).scalars())
    for code in found:
        if code.next_change_at is not None and code.next_change_at <= utcnow():
            apply_due_schedule(code.id)
            db.session.refresh(code)
    return found


def workspace_tags(workspace: Workspace) -> list[str]:
    """Every tag the workspace uses, A to Z (the dashboard's tag filter)."""
    return list(
        db.session.execute(
            select(CodeTag.tag)
            .join(Code, Code.id == CodeTag.code_id)
            .where(Code.workspace_id == workspace.id)
            .distinct()
            .order_by(CodeTag.tag)
        ).scalars()
    )


def short_url(code: Code) -> str:
    """The link a code's image encodes (templates use it as the `short_url` filter)."""
    return f"{current_app.config['OPENQR_SHORT_BASE_URL']}/{code.slug}"


def code_json(code: Code, scans: int | None = None) -> dict:
    """A code as the API shows it (`scans`: its stored scan count, when the caller has it)."""
    return {
        "id": code.id,
        "slug": code.slug,
        "short_url": short_url(code),
        "destination": code.destination,
        "label": code.label,
        "tags": code.tags,
        "folder_id": code.folder_id,
        "style": code.style or {},
        "status": status_of(code, scans),
        "created_at": iso_z(code.created_at),
        "updated_at": iso_z(code.updated_at),
        **smart.fields_json(code.smart),
    }


def code_schema() -> dict:
    """A code's JSON as `code_json` writes it: every field, always, in this order."""
    stamp = timestamp_schema()
    fields = {
        "id": {"type": "string", "pattern": anchored(ID)},
        "slug": {"type": "string", "pattern": anchored(ANY_SLUG)},
        "short_url": {"type": "string", "format": "uri"},
        "destination": {"type": "string", "maxLength": destinations.MAX_LENGTH},
        "label": {"type": ["string", "null"], "maxLength": MAX_LABEL_LENGTH},
        "tags": {"type": "array", "maxItems": MAX_TAGS, "items": {"type": "string"}},
        "folder_id": {"type": ["string", "null"]},
        "style": qr.stored_style_schema(),
        "status": {
            "type": "string",
            "enum": list(SHOWN_STATUSES),
            "description": "`ended`: expired or its scan cap reached; `disabled`: switched off by the "
            "operator.",
        },
        "created_at": stamp,
        "updated_at": stamp,
        **smart.json_schemas(),
    }
    return closed(fields)


def history_schema() -> dict:
    """What `history` returns."""
    change = {
        "at": timestamp_schema(),
        "destination": {"type": "string"},
        "source": {"type": "string", "enum": list(smart.HISTORY_SOURCES)},
        "actor": audit.actor_schema(),
    }
    return {
        "type": "array",
        "description": "Every change of the code's destination, creation included, newest first.",
        "items": closed(change),
    }


def prove_style(code: Code) -> None:
    """A styled code's image must read back as its short URL (400 `unscannable`, nothing stored)."""
    if code.style:
        qr_http.prove(code_image_params(code, {}))


def code_image_params(code: Code, args: Mapping[str, str]) -> qr.QrParams:
    """A code's short URL in its saved style; `args` may override the style for this image."""
    return qr_http.image_params(args, style=code.style or {}, data=short_url(code))
