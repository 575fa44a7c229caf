"""Request bodies checked against pydantic models: a 400 naming every field that is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from geoplatform.errors import InvalidParameter

Body = TypeVar("Body", bound=BaseModel)


def parse_body(
    model: type[Body], document: object, messages: Mapping[tuple[str, str], str] | None = None
) -> Body:
    """``document`` as ``model``; otherwise InvalidParameter with one ``field: message`` per
    error. ``messages`` replaces pydantic's wording for (field path, error type) pairs."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        text = "; ".join(_message(error, messages or {}) for error in exc.errors())
        raise InvalidParameter(text) from None


def _message(error: dict, messages: Mapping[tuple[str, str], str]) -> str:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    message = messages.get((path, error["type"])) or error["msg"].removeprefix("Value error, ")
    return f"{path or 'body'}: {message}"
