"""Who did something: every service takes an explicit actor and records it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "api_key", "system", "shopper"
    label: str
    user_id: int | None = None
    api_key_id: int | None = None
    permissions: frozenset[str] = field(default=frozenset())

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind="system", label=label)

    @classmethod
    def shopper(cls, label: str = "shopper (portal)") -> Actor:
        """A shopper acting for themselves in the portal: no account, no permissions."""
        return cls(kind="shopper", label=label)

    def can(self, permission: str) -> bool:
        return self.kind == "system" or permission in self.permissions
