"""Which exceptions are the user's to fix, and how to say so in one message.

An *expected stop* is one the data or the arguments caused, not a bug: validation failed, a file
was refused, a setting is wrong. The console says it in one message, without the tracebacks
Prefect's task and flow engines print for any exception (those stay in the run's log, which the
Prefect API keeps); ``s2p run --json`` answers it with a JSON object (``stop_report``).
"""

from __future__ import annotations

import logging

#: Prefect's engines log these records for a run that failed: the exception (with its traceback)
#: and the final state, which repeats the exception's message.
_ENGINE_FAILED = "Finished in state Failed("


class BackendUnavailable(ConnectionError):
    """A configured backend (a database, a store, a cluster) does not answer, or refuses us: the
    message names it and its address."""


class CredentialsRefused(BackendUnavailable):
    """A backend answered and refused our credentials: the message names it, its address and whose
    credentials; retrying cannot help (s2p.backends.transient says no)."""


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
    if isinstance(error, ConfigError | DataError | FileNotFoundError | BackendUnavailable):
        return str(error)
    if type(error).__name__ in ("ValidationFailed", "StepsFailed") or isinstance(error, ValueError):
        return str(error)
    return None


def expected_stop(error: BaseException) -> bool:
    """Whether ``error`` (or the failed step behind a flow's error) is an expected stop: validation
    failed, a data file was refused, a setting or an id is wrong."""
    from s2p.catalog import UnknownDeliverable
    from s2p.config import ConfigError
    from s2p.sources import DataError

    cause = getattr(error, "first_error", None)
    if cause is not None:
        return expected_stop(cause)
    return type(error).__name__ == "ValidationFailed" or isinstance(
        error, DataError | ConfigError | UnknownDeliverable | BackendUnavailable
    )


def stop_report(error: BaseException) -> dict:
    """What `s2p run --json` prints for an expected stop: passed false, the failures, the report."""
    cause = getattr(error, "first_error", None) or error
    report = getattr(cause, "report", None)
    message = explain(error) or str(error)
    if report is not None:
        failures = [failure.__dict__ | {"line": failure.line()} for failure in report.failures]
    else:  # a file refused before validation: the one problem, named
        failures = [{"expectation": None, "column": None, "unexpected_count": None, "detail": message, "line": message}]
    return {"passed": False, "error": message, "failures": failures, "report": getattr(cause, "report_path", None)}


#: First lines of the expected stops seen in this process: the final-state records repeating one are
#: kept off the console too.
_stopped: set[str] = set()


def remember_expected_stop(error: BaseException) -> bool:
    """Note ``error`` if it is an expected stop (whether it is). The engine's exception record notes it
    as it passes the console filter; a task with a retry condition that declines (s2p.backends) logs no
    exception record at all (Prefect 3.9), so the condition notes it before the final state is logged."""
    if not expected_stop(error):
        return False
    cause = getattr(error, "first_error", None) or error
    _stopped.add(str(cause).splitlines()[0] if str(cause) else type(cause).__name__)
    return True


class _ExpectedStopFilter(logging.Filter):
    """Keeps expected stops off the console: the engines' exception records (with tracebacks) and
    the final-state records that repeat their message. Other failures pass untouched."""

    def __init__(self) -> None:
        super().__init__("s2p-expected-stops")

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and remember_expected_stop(error):
            return False
        if error is None and record.getMessage().startswith(_ENGINE_FAILED):
            return not any(message in record.getMessage() for message in _stopped)
        return True


def quiet_expected_stops() -> None:
    """Filter expected stops out of the console handlers Prefect installed (idempotent); the
    handlers that send the run's log to the Prefect API are left as they are."""
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and not any(
            isinstance(existing, _ExpectedStopFilter) for existing in handler.filters
        ):
            handler.addFilter(_ExpectedStopFilter())
