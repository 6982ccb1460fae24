"""Scans: from a request to stored, anonymous counts, and the analytics read from them.

`classify` turns a request into coarse facts (country, device, referrer host; the visitor a smart
rule sees) without keeping an address or agent; `recorder` buffers answered scans and writes them
off the request path through `store` (raw rows, roll-ups, visitors, their webhook events);
`visitors` counts distinct visitors with a daily key; `analytics` reads the roll-ups; `seed` makes
realistic data; `countries` names them. May import the app shell and `webhooks` (the outbox).
"""
