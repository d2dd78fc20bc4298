"""How a failed HTTP call to a gateway counts, for the channels that speak HTTP (Telegram, SMS).

Before the request left (refused, no route, DNS, a connect timeout) nothing was sent: retried.
After it left (no answer within the timeout, the connection dropped during the answer) the
gateway may have sent the message: the outcome is unknown and it is not sent again, so that
no one gets it twice (docs/notifications.md, "At most once").
"""

from requests import ConnectionError, ConnectTimeout, RequestException
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from housing.notifications.channels.base import Outcome, temporary, unknown

NEVER_CONNECTED = (NewConnectionError, ConnectTimeoutError, NameResolutionError)


def _never_connected(error: RequestException) -> bool:
    if isinstance(error, ConnectTimeout):
        return True
    cause = error.args[0] if error.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, NEVER_CONNECTED)


def http_failure(error: RequestException, service: str) -> Outcome:
    """The outcome of a call to `service` that raised instead of answering."""
    described = f"{service}: {type(error).__name__}"
    if _never_connected(error):
        return temporary(f"{described} (unreachable)")
    if isinstance(error, ConnectionError) or "Timeout" in type(error).__name__:
        return unknown(f"{described} after the request was sent")
    return temporary(described)
