"""Operations: what an operator watches and what keeps the service standing.

Health (`/healthz`), Prometheus metrics (`/metrics`), the 503 answer while the database is down
(`outage`), body limits and security headers (`security`), rate limits (`ratelimit`), copying an
install to another database (`dbcopy`) and backing it up (`backup`). May import the app shell, `web`
and `webhooks` (the outbox depth), never a feature area above it.
"""
