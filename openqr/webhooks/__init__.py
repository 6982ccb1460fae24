"""Webhooks: subscriptions and their events.

`outbox` owns the webhook rules (targets, events, secrets) and writes events into the outbox in the
transaction of the change that caused them; `delivery` sends them later, signed, off the request
path, retrying with back-off. May import the app shell only (the URL guard is `destinations`).
"""
