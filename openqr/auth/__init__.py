"""Who someone is: magic-link sign-in, accounts, API keys and the mail that carries links.

`routes` is the sign-in blueprint (an email form, a single-use signed link, sign-out that ends every
session); `tokens` signs the links; `accounts` creates and limits accounts; `keys` issues and checks
Bearer keys; `mail` sends through SMTP (or logs without it). May import the app shell, `web` and
`ops` (rate limits).
"""

from .routes import bp

__all__ = ["bp"]
