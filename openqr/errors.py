"""Domain errors: raised by the rules of codes, folders and limits, shown by the API and the dashboard."""

from __future__ import annotations

import functools
import re

from flask import jsonify, request

from .extensions import db
from .text import anchored, closed

ERROR_CODE = re.compile("[a-z_]+")  # the shape of every `error` an answer carries

API_PREFIX = "/v1"  # where the JSON API lives (its blueprint's url_prefix)


def is_api_request() -> bool:
    """Whether this request is for the JSON API (errors answer JSON there, pages elsewhere)."""
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def error_response(status: int, code: str, message: str, headers: dict | None = None, **extra):
    """The API's error body, `{"error": code, "message": ..., ...}`, with its status and headers."""
    body = {"error": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


class DomainError(Exception):
    """A request the rules refuse. `code` is machine-readable, str(err) is for a person."""

    status = 400
    code = "invalid_request"

    def __init__(
        self, message: str, *, field: str | None = None, code: str | None = None, details: list | None = None
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        if code:
            self.code = code

    def to_json(self) -> dict:
        body = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
        return body

    def problem(self, index: int) -> dict:
        """This refusal as one entry of a bulk request's `details`: which item, and why."""
        return {"index": index, "field": self.field, "error": self.code, "message": self.message}


def error_schema() -> dict:
    """Every error's JSON (`to_json`, `error_response`), with a bulk request's `problem`s."""
    problem = {
        "index": {"type": "integer", "minimum": 0},
        "field": {"type": ["string", "null"]},
        "error": {"type": "string"},
        "message": {"type": "string"},
    }
    fields = {
        "error": {"type": "string", "pattern": anchored(ERROR_CODE), "description": "Machine-readable code."},
        "message": {"type": "string", "description": "One sentence for a person."},
        "field": {"type": "string", "description": "The field or parameter at fault."},
        "details": {
            "type": "array",
            "description": "Bulk: one entry per bad item.",
            "items": closed(problem, ["index", "error", "message"]),
        },
    }
    return closed(fields, ["error", "message"])


class ValidationError(DomainError):
    status = 400
    code = "invalid_request"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "slug_taken"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, headers: dict[str, str]):
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers


def rolls_back(operation):
    """A refused change leaves nothing behind: on a DomainError the session is rolled back,
    so the caller (a view, a command) renders its answer from the stored rows."""

    @functools.wraps(operation)
    def run(*args, **kwargs):
        try:
            return operation(*args, **kwargs)
        except DomainError:
            db.session.rollback()
            raise

    return run


class DatabaseUnavailable(Exception):
    """The database cannot answer now (stopped, unreachable, locked): a 503, never a 500 or a 404."""
