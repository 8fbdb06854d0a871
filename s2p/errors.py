"""Which exceptions are the user's to fix, and how to say so in one message."""

from __future__ import annotations


def explain(error: BaseException) -> str | None:
    """A message for an error a user can act on, or None for a bug (shown with its traceback)."""
    from s2p.catalog import UnknownDeliverable
    from s2p.config import ConfigError
    from s2p.sources import DataError

    cause = getattr(error, "first_error", None)  # a flow's failed step
    if cause is not None and explain(cause) is not None:
        return explain(cause)
    if isinstance(error, UnknownDeliverable):
        return str(error)
    if isinstance(error, ConfigError | DataError | FileNotFoundError):
        return str(error)
    if type(error).__name__ in ("ValidationFailed", "StepsFailed") or isinstance(error, ValueError):
        return str(error)
    return None
