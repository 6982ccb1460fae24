"""HTMX helpers: detect a partial request, render a page or one of its blocks, small headers."""

from __future__ import annotations

from flask import Response, current_app, make_response, render_template, request


def is_htmx() -> bool:
    """An HTMX request that wants a fragment: HX-Request, but not a history restore (that needs the page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_block(template_name: str, block: str, **context) -> str:
    """One block of a page template, rendered with the same context the page would get."""
    app = current_app._get_current_object()
    template = app.jinja_env.get_template(template_name)
    app.update_template_context(context)
    # A block rendered alone skips the page's top-level `{% from "macros.html" import ... %}`.
    macros = app.jinja_env.get_template("macros.html").module
    for name in dir(macros):
        if not name.startswith("_"):
            context.setdefault(name, getattr(macros, name))
    return "".join(template.blocks[block](template.new_context(context)))


def page_or_block(template_name: str, block: str, status: int = 200, **context):
    """The whole page on a normal request, only `block` on an HTMX one (`vary_on_htmx` says so)."""
    if is_htmx():
        body = render_block(template_name, block, **context)
    else:
        body = render_template(template_name, **context)
    return make_response(body, status)


def vary_on_htmx(response: Response) -> Response:
    """`Vary: HX-Request`, as the `after_request` of each blueprint that answers HTMX (dashboard,
    sign-in): a page and its fragment share a URL, so a cache must keep them apart."""
    response.vary.add("HX-Request")
    return response


def hx_redirect(location: str):
    """Send the browser to `location`: a full navigation for HTMX, a 303 otherwise."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
    else:
        response = make_response("", 303)
        response.headers["Location"] = location
    return response
