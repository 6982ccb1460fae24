"""The rules of a dynamic code: validation, create, edit, delete, list. API and dashboard share them."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping

from flask import current_app
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from . import links, qr, ratelimit
from .destinations import DestinationError, check_destination
from .errors import Conflict, NotFound, ValidationError, rolls_back
from .extensions import db
from .models import Account, Code, CodeTag, Folder, find_owned, utcnow
from .text import has_control, iso_z

RANDOM_SLUG_ALPHABET = string.ascii_letters + string.digits
RANDOM_SLUG_LENGTH = 7
CUSTOM_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MIN_LENGTH = 3
SLUG_MAX_LENGTH = 48
STATUSES = ("active", "disabled")
# GET /v1/dynamic and the dashboard's list: how many codes per call, and how far one may skip.
LIST_DEFAULT = 200
LIST_MAX = 500
OFFSET_MAX = 10_000_000
MAX_FILTER_LENGTH = 200  # the longest `tag`, `folder_id` or `q` filter a list takes
MAX_TAGS = 10
MAX_TAG_LENGTH = 40
MAX_LABEL_LENGTH = 200
MAX_BULK = 200
EDITABLE_FIELDS = ("destination", "label", "slug", "tags", "folder_id", "style")


def reserved_slugs() -> frozenset[str]:
    """First path segments the app itself routes: never usable as slugs."""
    cached = current_app.extensions.get("openqr.reserved_slugs")
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
            "bulk",
            "account",
            "settings",
            "favicon.ico",
            "robots.txt",
        }
        cached = frozenset(s.lower() for s in segments | extra if s and not s.startswith("<"))
        current_app.extensions["openqr.reserved_slugs"] = cached
    return cached


# --- validators: each returns the clean value or raises ValidationError naming the field ---


def clean_destination(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(
            "Destination is required: a public http(s) URL.", field="destination", code="invalid_destination"
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
        raise ValidationError(str(err), field="destination", code="invalid_destination") from None


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
        tag = " ".join(raw.split()).lower()
        if not tag:
            raise ValidationError("Tags must not be empty.", field="tags")
        if len(tag) > MAX_TAG_LENGTH or "," in tag or has_control(tag):
            raise ValidationError(
                f"Each tag is at most {MAX_TAG_LENGTH} characters, without commas.", field="tags"
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A code has at most {MAX_TAGS} tags.", field="tags")
    return tags


def clean_folder_id(account: Account, value: object) -> str | None:
    if value is None:
        return None
    if find_owned(Folder, account.id, value) is None:
        raise ValidationError("No such folder.", field="folder_id", code="invalid_folder")
    return value


def clean_style(value: object) -> dict:
    try:
        return qr.validate_style(value)
    except qr.QrParamError as err:
        raise ValidationError(str(err), field=err.field, code="invalid_style") from None


def clean_fields(account: Account, data: object, *, creating: bool) -> dict:
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
        "folder_id": lambda value: clean_folder_id(account, value),
        # A null slug on create means "pick one for me".
        "slug": lambda value: None if (creating and value is None) else clean_slug(value),
    }
    return {name: cleaners[name](data[name]) for name in EDITABLE_FIELDS if name in data}


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


def _new_code(account: Account, fields: dict, taken: set[str]) -> Code:
    slug = fields.get("slug") or _free_random_slug(taken)
    taken.add(slug)
    code = Code(
        account_id=account.id,
        slug=slug,
        destination=fields["destination"],
        label=fields.get("label"),
        folder_id=fields.get("folder_id"),
        style=fields.get("style") or {},
    )
    code.tag_rows = [CodeTag(tag=tag, position=i) for i, tag in enumerate(fields.get("tags") or [])]
    return code


def _commit_or_conflict(slug_hint: str | None = None) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        message = f"The slug '{slug_hint}' is already taken." if slug_hint else "That slug is already taken."
        raise Conflict(message, field="slug") from None


@rolls_back
def create_code(account: Account, data: object) -> tuple[Code, ratelimit.Budget]:
    """Create one code, counting it against the hourly single-create limit."""
    fields = clean_fields(account, data, creating=True)
    if fields.get("slug") and _slug_taken(fields["slug"]):
        raise Conflict(f"The slug '{fields['slug']}' is already taken.", field="slug")
    budget = ratelimit.consume(f"create:{account.id}", current_app.config["OPENQR_CREATE_LIMIT"])
    code = _new_code(account, fields, set())
    db.session.add(code)
    _commit_or_conflict(fields.get("slug"))
    return code, budget


def check_bulk_items(account: Account, items: list) -> tuple[list[dict], list[dict]]:
    """Check every item as a create would, plus slugs repeated in the list or already taken.

    Returns the cleaned fields of all items and one problem per bad item (`index`, `field`,
    `error`, `message`); the bulk API and the dashboard's preview both show these.
    """
    cleaned, problems, seen = [], [], {}
    for index, item in enumerate(items):
        try:
            if isinstance(item, Mapping) and "style" in item:
                raise ValidationError("Unknown field: style.", field="style", code="unknown_field")
            fields = clean_fields(account, item, creating=True)
            slug = fields.get("slug")
            if slug and slug in seen:
                raise Conflict(f"The slug '{slug}' is repeated (item {seen[slug]}).", field="slug")
            if slug and _slug_taken(slug):
                raise Conflict(f"The slug '{slug}' is already taken.", field="slug")
            if slug:
                seen[slug] = index
            cleaned.append(fields)
        except (ValidationError, Conflict) as err:
            problems.append({"index": index, "field": err.field, "error": err.code, "message": err.message})
    return cleaned, problems


@rolls_back
def bulk_create(account: Account, data: object) -> list[Code]:
    """Create 1..200 codes, all or nothing; errors list every bad item by index."""
    if not isinstance(data, Mapping) or set(data) != {"codes"} or not isinstance(data["codes"], list):
        raise ValidationError('The body must be {"codes": [ ... ]}.', field="codes")
    items = data["codes"]
    if not 1 <= len(items) <= MAX_BULK:
        raise ValidationError(f"Send 1 to {MAX_BULK} codes per request.", field="codes")
    cleaned, problems = check_bulk_items(account, items)
    if problems:
        raise ValidationError(
            f"{len(problems)} of {len(items)} codes are invalid; nothing was created.",
            code="invalid_items",
            details=problems,
        )
    ratelimit.consume(f"bulk:{account.id}", current_app.config["OPENQR_BULK_LIMIT"])
    taken = {fields["slug"] for fields in cleaned if fields.get("slug")}
    codes = [_new_code(account, fields, taken) for fields in cleaned]
    db.session.add_all(codes)
    _commit_or_conflict()
    return codes


def get_code(account: Account, code_id: str) -> Code:
    code = find_owned(Code, account.id, code_id)
    if code is None:
        raise NotFound("No such code.")
    return code


@rolls_back
def update_code(account: Account, code_id: str, data: object) -> Code:
    """Apply a patch: only the fields sent change."""
    code = get_code(account, code_id)
    if isinstance(data, Mapping) and data.get("slug") == code.slug:
        # Its own slug is no change, even a random one that the custom-slug rule would refuse.
        data = {name: value for name, value in data.items() if name != "slug"}
    fields = clean_fields(account, data, creating=False)
    old_slug = code.slug
    if "slug" in fields and fields["slug"] != code.slug and _slug_taken(fields["slug"]):
        raise Conflict(f"The slug '{fields['slug']}' is already taken.", field="slug")
    for name in ("destination", "label", "slug", "folder_id", "style"):
        if name in fields:
            setattr(code, name, fields[name])
    if "tags" in fields:
        code.tag_rows = []
        db.session.flush()
        code.tag_rows = [CodeTag(tag=tag, position=i) for i, tag in enumerate(fields["tags"])]
    code.updated_at = utcnow()
    _commit_or_conflict(fields.get("slug"))
    links.changed(old_slug, code.slug)
    return code


def find_by_slug(slug: str) -> Code:
    """Any account's code by its slug (operator tools); raises NotFound."""
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
    db.session.commit()
    links.changed(code.slug)
    return code


def delete_code(account: Account, code_id: str) -> None:
    code = get_code(account, code_id)
    slug = code.slug
    db.session.delete(code)
    db.session.commit()
    links.changed(slug)


def list_codes(
    account: Account,
    *,
    limit: int = LIST_DEFAULT,
    offset: int = 0,
    tag: str | None = None,
    folder_id: str | None = None,
    q: str | None = None,
) -> list[Code]:
    """The account's codes, newest first, filtered."""
    for name, value in (("tag", tag), ("folder_id", folder_id), ("q", q)):
        if value and "\x00" in value:  # PostgreSQL cannot hold NUL in text: refuse it rather than fail
            raise ValidationError(f"'{name}' must not contain a NUL character.", field=name)
    query = (
        select(Code)
        .where(Code.account_id == account.id)
        .options(selectinload(Code.tag_rows))
        .order_by(Code.created_at.desc(), Code.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if tag:
        query = query.where(exists().where(CodeTag.code_id == Code.id, CodeTag.tag == tag.strip().lower()))
    if folder_id:
        query = query.where(Code.folder_id == folder_id)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(*(column.ilike(pattern, escape="\\") for column in (Code.label, Code.slug, Code.destination)))
        )
    return list(db.session.execute(query).scalars())


def account_tags(account: Account) -> list[str]:
    """Every tag the account uses, A to Z (the dashboard's tag filter)."""
    return list(
        db.session.execute(
            select(CodeTag.tag)
            .join(Code, Code.id == CodeTag.code_id)
            .where(Code.account_id == account.id)
            .distinct()
            .order_by(CodeTag.tag)
        ).scalars()
    )


def short_url(code: Code) -> str:
    """The link a code's image encodes (templates use it as the `short_url` filter)."""
    return f"{current_app.config['OPENQR_SHORT_BASE_URL']}/{code.slug}"


def code_json(code: Code) -> dict:
    """A code as the API shows it."""
    return {
        "id": code.id,
        "slug": code.slug,
        "short_url": short_url(code),
        "destination": code.destination,
        "label": code.label,
        "tags": code.tags,
        "folder_id": code.folder_id,
        "style": code.style or {},
        "status": code.status,
        "created_at": iso_z(code.created_at),
        "updated_at": iso_z(code.updated_at),
    }
