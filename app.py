"""Serve OpenQR with waitress: `python app.py` (or `make run`); `flask ...` finds `create_app` here."""

from openqr.main import build_app as create_app
from openqr.main import serve

__all__ = ["create_app"]

if __name__ == "__main__":
    serve()
