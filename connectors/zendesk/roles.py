"""Who is who among Zendesk users: the role of each user id, learnt from sideloads and look-ups, to tell contact from
agent comment authors."""

from __future__ import annotations

from typing import Any

ROLES_KEPT = 100_000


class RoleBook:
    """User id → Zendesk role, learnt from sideloads and look-ups, to tell contact from agent comment authors."""

    def __init__(self, capacity: int = ROLES_KEPT) -> None:
        self._capacity = capacity
        self.roles: dict[str, str] = {}

    def learn(self, users: list[dict[str, Any]]) -> None:
        if len(self.roles) + len(users) > self._capacity:
            self.roles.clear()
        for user in users:
            if user.get("id") is not None:
                self.roles[str(user["id"])] = str(user.get("role"))

    def unknown(self, user_ids: set[str]) -> list[str]:
        return sorted(uid for uid in user_ids if uid not in self.roles and uid.isdigit())
