"""Who people are on Slack: display names and admin rights from `users.info`, cached with a TTL.

Workspace admins and owners count as admins, and so do the user ids listed in
`settings.slack_admin_users`; the engine decides what admins (and a round's asker) may do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.base import UserRef
from bot.platforms.slack import PLATFORM
from bot.platforms.slack.messenger import SLACK_ERRORS, error_code

log = logging.getLogger(__name__)

DEFAULT_TTL = 600.0  # seconds a users.info answer is trusted
FAILURE_TTL = 30.0  # seconds before a failed lookup is tried again


@dataclass(frozen=True, slots=True)
class Person:
    """What the adapter needs to know about a Slack user."""

    user_id: str
    display_name: str
    workspace_admin: bool = False


class Directory:
    """users.info lookups, cached per user id."""

    def __init__(self, client: AsyncWebClient, admin_users: Iterable[str] = (), *, ttl: float = DEFAULT_TTL,
                 now: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._admins = frozenset(admin_users)
        self._ttl = ttl
        self._now = now
        self._cache: dict[str, tuple[float, Person]] = {}

    async def person(self, user_id: str) -> Person:
        """The cached person, looked up again when the entry is older than the TTL."""
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self._now():
            return cached[1]
        try:
            answer = await self._client.users_info(user=user_id)
        except SLACK_ERRORS as exc:
            log.warning("users.info failed user=%s error=%s", user_id, error_code(exc))
            person = cached[1] if cached is not None else Person(user_id, user_id)
            self._cache[user_id] = (self._now() + FAILURE_TTL, person)
            return person
        person = _person(user_id, answer.get("user") or {})
        self._cache[user_id] = (self._now() + self._ttl, person)
        return person

    async def user_ref(self, user_id: str) -> UserRef:
        """The neutral user, with the name people see in Slack."""
        person = await self.person(user_id)
        return UserRef(PLATFORM, user_id, person.display_name)

    async def is_admin(self, user_id: str) -> bool:
        """Listed in settings, or a workspace admin or owner."""
        if user_id in self._admins:
            return True
        return (await self.person(user_id)).workspace_admin


def _person(user_id: str, user: dict[str, object]) -> Person:
    profile = user.get("profile")
    names: list[object] = []
    if isinstance(profile, dict):
        names += [profile.get("display_name"), profile.get("real_name")]
    names += [user.get("real_name"), user.get("name"), user_id]
    name = next(str(n).strip() for n in names if isinstance(n, str) and n.strip())
    admin = any(user.get(key) is True for key in ("is_admin", "is_owner", "is_primary_owner"))
    return Person(user_id, name, admin)

