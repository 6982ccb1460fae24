"""Codes: what a dynamic code is and how it may change.

Owns the code rules and their messages (`core`: slugs, labels, tags, create/update/delete,
history), the filters every list and scan summary reads (`filters`), smart destinations
(`smart`), folders (`folders`) and the scheduler that applies due schedule entries
(`scheduler`). It announces slug changes with a signal instead of calling the redirect. May
import the app shell (models, errors, text, destinations, extensions), `images` (style rules),
`scans` (stored counts), `webhooks` (the outbox) and `ops` (rate limits), never an HTTP area
(api, dashboard, assistant, redirect).
"""
