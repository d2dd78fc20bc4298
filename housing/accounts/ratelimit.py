"""Failed-login throttling with the `limits` library (memory, or Redis across processes)."""

import time

from limits import parse, storage, strategies

from housing.accounts.usernames import normal_username


class LoginThrottle:
    """Counts failed logins per (user name, client) and per client alone.

    The user name is counted in its normal form (housing.accounts.usernames), the one login
    looks the account up by: "Boss", " boss" and its full-width form share one counter.

    A client that guesses many user names hits the per-client limit, which is ten
    times the per-user one, so a shared office address is not locked out by one typo.
    """

    def __init__(self, limit: str, storage_uri: str) -> None:
        self._per_user = parse(limit)
        self._per_client = parse(
            f"{self._per_user.amount * 10} per {self._per_user.multiples} {self._per_user.GRANULARITY.name}"
        )
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def _keys(self, username: str, client: str):
        return (
            (self._per_user, ("login", normal_username(username), client)),
            (self._per_client, ("login-client", client)),
        )

    def allowed(self, username: str, client: str) -> bool:
        return all(self._limiter.test(limit, *key) for limit, key in self._keys(username, client))

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until the next attempt may succeed."""
        resets = [
            self._limiter.get_window_stats(limit, *key).reset_time
            for limit, key in self._keys(username, client)
        ]
        return max(1, int(max(resets) - time.time()) + 1)

    def record_failure(self, username: str, client: str) -> None:
        for limit, key in self._keys(username, client):
            self._limiter.hit(limit, *key)
