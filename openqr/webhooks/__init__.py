"""Webhooks: subscriptions and their events.

`outbox` owns the webhook rules (events, secrets) and writes events into the outbox in the
transaction of the change that caused them; `egress` decides where a webhook may go and makes the
request there (resolve, check every address, connect to the checked one); `delivery` sends the
outbox's events later, signed, off the request path, retrying with back-off. May import the app
shell only (the URL guard is `destinations`, the allow list's format `config`).
"""
