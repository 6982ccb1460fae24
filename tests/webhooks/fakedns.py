"""A resolver the test controls, and a fence that lets connections reach loopback only.

`FakeDNS` replaces `socket.getaddrinfo`: made-up names answer from a table (each look-up takes the
next answer of the name's list, the last one repeats, so a rebinding server is one entry), every
look-up is counted, and any other name fails as on a machine without DNS. `fence()` installs an
audit hook that refuses, and records, every `connect` to an address that is not loopback: whatever
a test resolves, nothing leaves the machine. In a server process `install_from_environment()`
(run by `tests/webhooks/site/sitecustomize.py`) does both from FAKEDNS_TABLE and logs each
look-up and connect to FAKEDNS_LOG.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import sys
import threading

_real_getaddrinfo = socket.getaddrinfo


class FakeDNS:
    def __init__(self, table: dict[str, list[list[str]]], log=None):
        self.table = {name.lower(): list(answers) for name, answers in table.items()}
        self.asked: list[str] = []
        self.log = log or (lambda line: None)
        self._lock = threading.Lock()

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or _is_address(name) or name == "localhost":
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        name = name.lower().rstrip(".")
        with self._lock:
            answers = self.table.get(name)
            if answers is None:
                self.log(f"lookup {name} unknown")
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            self.asked.append(name)
            addresses = answers.pop(0) if len(answers) > 1 else answers[0]
            self.log(f"lookup {name} {','.join(addresses)}")
        port = int(port or 0)
        return [_info(address, port) for address in addresses]

    def lookups(self, name: str) -> int:
        return self.asked.count(name)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return False
    return True


def _info(address: str, port: int):
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


# --- the fence: an audit hook cannot be removed, so one is installed and switched on and off ---

_fence = {"on": False, "connects": [], "log": None}
_hooked = False

FENCE_MESSAGE = "test fence: no connection outside loopback"


def _audit(event: str, args) -> None:
    if event != "socket.connect" or not _fence["on"]:
        return
    address = args[1]
    if not isinstance(address, tuple):  # a Unix socket
        return
    host, port = str(address[0]), int(address[1])
    try:
        loopback = ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:  # a name given straight to connect(): not what the server under test does
        loopback = False
    _fence["connects"].append((host, port, loopback))
    if _fence["log"]:
        _fence["log"](f"connect {host} {port} {'allowed' if loopback else 'blocked'}")
    if not loopback:
        raise PermissionError(FENCE_MESSAGE)


def _hook() -> None:
    global _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True


@contextlib.contextmanager
def fence():
    """Every connect inside the block reaches loopback or fails; yields the list of connects made,
    (host, port, loopback) in order."""
    _hook()
    _fence.update(on=True, connects=[])
    try:
        yield _fence["connects"]
    finally:
        _fence["on"] = False


def install_from_environment() -> None:
    """In a server process: the resolver from FAKEDNS_TABLE (JSON), the fence, a log in FAKEDNS_LOG."""
    table = os.environ.get("FAKEDNS_TABLE")
    if table is None:
        return
    path = os.environ.get("FAKEDNS_LOG")
    lock = threading.Lock()

    def log(line: str) -> None:
        if path:
            with lock, open(path, "a") as handle:
                handle.write(line + "\n")

    socket.getaddrinfo = FakeDNS(json.loads(table), log).getaddrinfo
    _hook()
    _fence.update(on=True, connects=[], log=log)
