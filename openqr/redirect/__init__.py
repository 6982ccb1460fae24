"""The redirect: a short link answered with a 302, as fast as the machine allows.

`links` keeps every link in memory, exact through the database's change feed; `fastpath` answers
known links before Flask's routing; `views` is the blueprint for the rest (unknown slugs, bots,
pages for ended or disabled codes). Never asks about accounts or roles. May import the app shell,
`codes` (plans of smart destinations, reserved slugs), `scans` (classification, the recorder)
and `web` (stand-alone pages); its metrics' counters come from the app's `services`.
"""

from .views import bp

__all__ = ["bp"]
