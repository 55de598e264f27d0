"""Installed steps and conditions, found through entry points (built-ins included).

A society's own package adds a step by declaring, in its pyproject.toml,
`[project.entry-points."idp.actions"] my-step = "my_package:MyStep"`; no change to core.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from idp.flows.api import Action, Authenticator, Condition, Step

log = logging.getLogger("idp.flows")
GROUPS = {"action": "idp.actions", "authenticate": "idp.authenticators", "condition": "idp.conditions"}


@dataclass(frozen=True)
class Registry:
    actions: dict[str, Action[Any]]
    authenticators: dict[str, Authenticator[Any]]
    conditions: dict[str, Condition]

    def step(self, kind: str, name: str) -> Step[Any] | None:
        """The installed step a flow names as `action: name` or `authenticate: name`."""
        steps: Mapping[str, Step[Any]] = self.actions if kind == "action" else self.authenticators
        return steps.get(name)

    def action_for_alias(self, alias: str) -> Action[Any] | None:
        """The action a Keycloak required-action alias (or our own name) stands for."""
        for action in self.actions.values():
            if alias in action.queued_as:
                return action
        return None


def _load(group: str, expected: type) -> dict[str, Any]:
    # `expected` is an abstract class (Action, Authenticator), which mypy's type[...] refuses.
    found = {}
    for point in entry_points(group=group):
        try:
            plugin = point.load()
            instance = plugin() if isinstance(plugin, type) else plugin
        except Exception:
            log.exception("plugin %s in %s failed to load; flows naming it will not validate", point.name, group)
            continue
        if not isinstance(instance, expected):
            log.error("plugin %s in %s is not a %s; ignored", point.name, group, expected.__name__)
            continue
        found[point.name] = instance
    return found


def load_registry() -> Registry:
    """Everything installed now (read again by `reload`, e.g. after a plugin is installed)."""
    return Registry(
        actions=_load(GROUPS["action"], Action),
        authenticators=_load(GROUPS["authenticate"], Authenticator),
        conditions=_load(GROUPS["condition"], Condition),
    )
