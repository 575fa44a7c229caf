"""What the workflow engine refuses, each a platform error with its HTTP status."""

from __future__ import annotations

from geoplatform.errors import Conflict, Forbidden, InvalidParameter, NotFound, PreconditionFailed


class UnknownItem(NotFound):
    """No item of that id in the workflow."""


class UnknownTransition(InvalidParameter):
    """The workflow declares no transition of that name."""


class ItemExists(Conflict):
    """``start`` of an item the workflow already holds."""


class TransitionNotAllowed(Conflict):
    """The item's current state does not allow the transition."""


class GuardRefused(Conflict):
    """A guard of the transition said no; the message is the guard's."""


class NotPermitted(Forbidden):
    """The caller's department and role are not among those that may fire the transition."""


class StaleItem(PreconditionFailed):
    """If-Match names a version of the item that is no longer current; carries the current ETag."""

    def __init__(self, message: str, current_etag: str) -> None:
        super().__init__(message)
        self.current_etag = current_etag
