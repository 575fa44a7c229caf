"""Who made a change, as the audit log records it: the caller's key and the request's id.

The request id is the client's ``X-Request-Id`` when it is a plain token (so a department's
system can find its own requests in the audit log), a new one otherwise; it is sent back on the
answer of every change.
"""

from __future__ import annotations

import re
import uuid

from flask import Response, g, request

from geoplatform.audit import Actor
from geoplatform.auth import Principal, current_principal

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def request_id() -> str:
    if "request_id" not in g:
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
    return g.request_id


def actor_of(caller: Principal | None = None) -> Actor:
    """The caller of this request (or ``caller``) as an audit actor."""
    who = caller or current_principal()
    return Actor(who.department, who.role, who.key_id, request_id())


def with_request_id(response: Response) -> Response:
    response.headers["X-Request-Id"] = request_id()
    return response
