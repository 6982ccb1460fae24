"""Helpers the tests share: servers, databases, receivers, a mail sink, HTML parsing."""
