"""The audit log: who changed what in a workspace, written in the change's own transaction.

`entries` holds the table's rules: `record` (called by the areas that change things: codes,
folders, webhooks, keys, members), who the actor is (`current_actor`, `acting`), and how entries
read. May import the app shell only, so every area can record without an import circle.
"""

from .entries import (
    CLI,
    SCHEDULE,
    acting,
    actor_schema,
    current_actor,
    key_actor,
    member_actor,
    record,
)

__all__ = [
    "CLI",
    "SCHEDULE",
    "acting",
    "actor_schema",
    "current_actor",
    "key_actor",
    "member_actor",
    "record",
]
