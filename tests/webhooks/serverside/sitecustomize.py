"""Loaded by a test's server process (this folder on its PYTHONPATH): the resolver the test controls
and the loopback fence, from FAKEDNS_TABLE and FAKEDNS_LOG (tests/webhooks/fakedns.py)."""

from tests.webhooks.fakedns import install_from_environment

install_from_environment()
