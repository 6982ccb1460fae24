"""The scan journal: every answered scan is on disk before its answer leaves, until the database has it.

The idea of Prometheus's write-ahead log (tsdb/wlog): a folder of numbered segment files that
only grow at the end, synced in batches, read back in order, and deleted once every record in
them is stored. Each process keeps a journal of its own, `<folder>/<name>/`, whose `lock` file
it holds with `fcntl.flock` while it lives; a journal whose lock nobody holds belongs to a
process that is gone, and the next process to start takes it over and stores what it holds.

A record is a complete frame (length and CRC-32 of the payload, then the payload: `marshal` of
a tuple of plain values: sequence number, code id, Unix time, country, device, referrer host,
destination, visitor digest) copied in one piece into the segment file's shared memory map.
The segment's blocks are allocated when it begins (a full disk says so then, never in the
middle of a record), and what is copied into the map is the kernel's page cache of the file:
a killed process cannot undo it. A `write` per scan would cost more than the scan itself here:
the system call lets go of Python's interpreter lock, and under load each scan then waits for
it (measured: 2.5 ms per scan, a fifth of the throughput). A frame cut short (a crash of the
machine before a sync) fails its CRC and is skipped when read. Nothing personal is written:
the address and user agent only ever exist in memory, the visitor is the day's HMAC digest
that `visitor_hashes` would keep anyway.
"""

from __future__ import annotations

import fcntl
import logging
import marshal
import mmap
import os
import struct
import tempfile
import threading
import time
import zlib
from pathlib import Path

log = logging.getLogger(__name__)

FRAME = struct.Struct("<IIQ")  # payload length, CRC-32 of sequence number and payload, sequence number
SEQ = struct.Struct("<Q")
MAGIC = b"OQRSCAN2"  # first bytes of every segment: the format of what follows
SEGMENT_BYTES = 4 * 1024 * 1024  # each segment's size: allocated when it begins
SEGMENT_RETRY = 1.0  # seconds a segment that could not begin (a full disk) is not tried again
READ_BYTES = 1024 * 1024  # read back at most this much at a time
FIELDS = 7  # code_id, at, country, device, referrer, destination, digest (the payload; seq is framed)
MARSHAL_VERSION = 4
STALE_NEW = 60.0  # seconds after which a half-made journal folder (".new-*") is removed


def _segment_name(number: int) -> str:
    return f"{number:08d}.seg"


def _segment_numbers(folder: Path) -> list[int]:
    names = (entry.name for entry in os.scandir(folder) if entry.name.endswith(".seg"))
    return sorted(int(name[:-4]) for name in names if name[:-4].isdigit())


def payload_of(fields: tuple) -> tuple[bytes, int]:
    """A record's payload and its CRC-32 so far: the costly part of a frame, made before the
    journal's lock is taken (so the lock is held as briefly as can be)."""
    payload = marshal.dumps(fields, MARSHAL_VERSION)
    return payload, zlib.crc32(payload)


def frame_of(seq: int, payload: bytes, crc: int) -> bytes:
    """The frame of a payload numbered `seq`: its CRC covers the number too."""
    return FRAME.pack(len(payload), zlib.crc32(SEQ.pack(seq), crc), seq) + payload


def encode(seq: int, fields: tuple) -> bytes:
    """One record's frame."""
    return frame_of(seq, *payload_of(fields))


def decode(buffer: bytes, offset: int, end: int) -> tuple[tuple | None, int]:
    """(record, offset after it) for the frame at `offset`; (None, offset) when no complete frame
    is there (the end, or a frame cut short); ValueError for a frame that fails its check."""
    if end - offset < FRAME.size:
        return None, offset
    length, crc, seq = FRAME.unpack_from(buffer, offset)
    start = offset + FRAME.size
    if end - start < length:
        return None, offset
    payload = buffer[start : start + length]
    if zlib.crc32(SEQ.pack(seq), zlib.crc32(payload)) != crc:
        raise ValueError(f"a record at byte {offset} fails its CRC")
    try:
        fields = marshal.loads(payload)
    except (EOFError, ValueError, TypeError) as err:
        raise ValueError(f"a record at byte {offset} cannot be read ({err})") from None
    if not isinstance(fields, tuple) or len(fields) != FIELDS:
        raise ValueError(f"a record at byte {offset} is not a scan")
    return (seq, *fields), start + length


class Segments:
    """A journal folder read in order: `read` a batch, `advance` past it once it is stored, which
    deletes every segment left behind. Subclasses say which segments there are and where each
    one's complete records end."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name  # the stream whose records these are (openqr.scans.store marks it)
        self.segment, self.offset = 0, 0  # where the next read starts
        self._read_fd: int | None = None
        self._read_segment = -1
        self.corrupt = 0  # segments with a frame that failed its check (the rest of each skipped)

    def numbers(self) -> list[int]:
        """Segment numbers present, oldest first."""
        raise NotImplementedError

    def bounds(self, number: int) -> tuple[int, bool]:
        """(bytes of complete records in the segment, whether a writer may still add to it),
        read together: once a segment is no longer the last, its end never moves again."""
        raise NotImplementedError

    def _forget(self, number: int) -> None:
        """A segment was deleted."""

    def read(self, limit: int) -> tuple[list[tuple], tuple[int, int]]:
        """Up to `limit` records from the read position and the position after them (nothing
        moves until `advance`)."""
        out: list[tuple] = []
        segment, offset = self.segment, self.offset
        for number in self.numbers():
            if number < segment:
                continue
            if number != segment:
                segment, offset = number, 0
            end, last = self.bounds(number)
            try:
                offset = self._read_from(number, max(offset, len(MAGIC)), end, limit, out)
            except OSError as err:
                log.error("cannot read scan journal segment %s: %s", self.path / _segment_name(number), err)
                break
            if len(out) >= limit or last:
                break
        return out, (segment, offset)

    def _fd_of(self, number: int) -> int:
        if self._read_segment != number:
            self._close_read()
            self._read_fd = os.open(self.path / _segment_name(number), os.O_RDONLY)
            self._read_segment = number
        return self._read_fd

    def _close_read(self) -> None:
        if self._read_fd is not None:
            os.close(self._read_fd)
        self._read_fd, self._read_segment = None, -1

    def _read_from(self, number: int, offset: int, end: int, limit: int, out: list) -> int:
        """Records of one segment from `offset` to `end` into `out`; the offset reached."""
        if end <= len(MAGIC):
            return offset  # made, never written to
        fd = self._fd_of(number)
        if offset == len(MAGIC) and os.pread(fd, len(MAGIC), 0) != MAGIC:
            return self._skip(number, end, "it does not begin as a scan journal segment")
        while offset < end and len(out) < limit:
            buffer = os.pread(fd, min(READ_BYTES, end - offset), offset)
            position = 0
            while len(out) < limit:
                if buffer[position : position + 4] == b"\0\0\0\0":
                    return end  # the allocated rest of a segment its process never filled
                try:
                    record, after = decode(buffer, position, len(buffer))
                except ValueError as err:
                    return self._skip(number, end, str(err))
                if record is None:
                    break
                out.append(record)
                position = after
            if position == 0:  # not even one whole frame: the last write was cut short
                return self._skip(number, end, "its last record is incomplete")
            offset += position
        return offset

    def _skip(self, number: int, end: int, why: str) -> int:
        """The rest of a segment cannot be read as records: skip it, saying why."""
        self.corrupt += 1
        log.error(
            "scan journal segment %s: %s; the rest of it is skipped", self.path / _segment_name(number), why
        )
        return end

    def advance(self, position: tuple[int, int]) -> None:
        """The records before `position` are stored: move past them, deleting the segments behind."""
        segment, offset = position
        end, last = self.bounds(segment)
        if offset >= end and not last:
            later = [number for number in self.numbers() if number > segment]
            if later:
                segment, offset = later[0], 0
        self.segment, self.offset = segment, offset
        for number in self.numbers():
            if number < segment:
                if number == self._read_segment:
                    self._close_read()
                try:
                    os.unlink(self.path / _segment_name(number))
                except FileNotFoundError:
                    pass
                self._forget(number)

    def pending_bytes(self) -> int:
        """Bytes of records not yet stored (from the read position on)."""
        total = 0
        for number in self.numbers():
            if number >= self.segment:
                end, _last = self.bounds(number)
                start = self.offset if number == self.segment else 0
                total += max(0, end - max(start, len(MAGIC)))
        return total


class Journal(Segments):
    """This process's own journal: `append` on the request path, `sync` by the flusher.

    `open` never raises: a folder that cannot be made or written leaves the journal closed,
    `append` answers 0 (the recorder then keeps the scan in memory and counts it), and
    `reopen` tries again later.
    """

    def __init__(self, root: Path, name: str, segment_bytes: int = SEGMENT_BYTES):
        super().__init__(root / name)
        self.root = root
        self.segment_bytes = segment_bytes
        self.seq = 0  # of the last record written
        self.write_failures = 0  # records that could not be written (kept in memory instead)
        self.error: str | None = None  # why the journal is not writable, while it is not
        self._lock = threading.Lock()  # one writer at a time; the reader takes it to read bounds
        self._lock_fd: int | None = None
        self._fd: int | None = None  # the segment being written
        self._map: mmap.mmap | None = None  # and its memory map
        self._active = 0  # its number
        self._ends: dict[int, int] = {}  # segment number -> bytes of complete records
        self._closing: list[tuple] = []  # (fd, map, end) of full segments the flusher syncs and closes
        self._dirty = self._new_names = False
        self._retry_segment_at = 0.0
        self._last_error_log = 0.0

    # Opening and closing --------------------------------------------------------------

    def open(self) -> bool:
        """Make the folder, take its lock, begin a segment; False (logged) when the disk refuses."""
        with self._lock:
            return self._open()

    def _open(self) -> bool:
        try:
            if self._lock_fd is None:
                self.root.mkdir(parents=True, exist_ok=True)
                # Made under a hidden name and renamed once locked: whoever sees the folder
                # sees its lock held (see `orphans`).
                draft = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
                fd = os.open(draft / "lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    os.rename(draft, self.path)
                except OSError:
                    os.close(fd)
                    raise
                self._lock_fd = fd
            self._begin_segment(max(self._ends, default=0) + 1)
        except OSError as err:
            self._fail(f"cannot open the scan journal in {self.root}: {err}")
            return False
        self.error = None
        return True

    def reopen(self) -> bool:
        """After a failure: try to begin a segment again (the flusher calls this now and then)."""
        with self._lock:
            return self._map is not None or self._open()

    def _begin_segment(self, number: int) -> None:
        path = self.path / _segment_name(number)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            # Every block now: a copy into the map never meets a full disk (that would be SIGBUS).
            os.posix_fallocate(fd, 0, self.segment_bytes)
            view = mmap.mmap(fd, self.segment_bytes)
        except OSError:
            os.close(fd)
            os.unlink(path)
            raise
        view[: len(MAGIC)] = MAGIC
        if self._map is not None:
            self._closing.append((self._fd, self._map, self._ends[self._active]))
        self._fd, self._map, self._active = fd, view, number
        self._ends[number] = len(MAGIC)
        self._dirty = self._new_names = True

    def release(self) -> None:
        """Sync and close, deleting nothing (what it holds waits for the next process to start)."""
        self.sync()
        with self._lock:
            if self._map is not None:
                self._closing.append((self._fd, self._map, self._ends[self._active]))
            self._fd = self._map = None
            lock_fd, self._lock_fd = self._lock_fd, None
        self.sync()
        if lock_fd is not None:
            os.close(lock_fd)
        self._close_read()

    def close(self) -> bool:
        """Sync and close; delete the folder when every record is stored. True when it was deleted."""
        self.release()
        if self.pending_bytes() or not self.path.exists():
            return False
        return retire(self.path)

    # Writing --------------------------------------------------------------------------

    def append(self, fields: tuple) -> int:
        """Write one record; its sequence number, or 0 when it could not be kept (never raises)."""
        payload, crc = payload_of(fields)
        with self._lock:
            view = self._map
            if view is None:
                self.write_failures += 1
                return 0
            seq = self.seq + 1
            frame = frame_of(seq, payload, crc)
            end = self._ends[self._active]
            if end + len(frame) > self.segment_bytes:
                if not self._next_segment(len(frame)):
                    self.write_failures += 1
                    return 0
                view, end = self._map, len(MAGIC)
            view[end : end + len(frame)] = frame
            self.seq = seq
            self._ends[self._active] = end + len(frame)
            self._dirty = True
            if self.error is not None:
                self.error = None  # the disk takes records again
            return seq

    def _next_segment(self, size: int) -> bool:
        """The current segment is full: begin the next (False, logged, when the disk refuses)."""
        if size > self.segment_bytes - len(MAGIC):
            self._fail(f"a scan record of {size} bytes does not fit a journal segment")
            return False
        now = time.monotonic()
        if now < self._retry_segment_at:
            return False
        try:
            self._begin_segment(self._active + 1)
        except OSError as err:
            self._retry_segment_at = now + SEGMENT_RETRY
            self._fail(f"cannot begin a new scan journal segment in {self.path}: {err}")
            return False
        return True

    def rotate(self) -> None:
        """Begin a new segment now, so the current one is deleted once its records are stored (at
        the end of a day: no digest of an ended day stays on the disk)."""
        with self._lock:
            if self._map is not None and self._ends[self._active] > len(MAGIC):
                try:
                    self._begin_segment(self._active + 1)
                except OSError as err:
                    self._log_error(f"cannot begin a new scan journal segment: {err}")

    def _fail(self, message: str) -> None:
        self.error = message
        self._log_error(message)

    def _log_error(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= 10.0:  # one line per 10 s, not one per scan
            self._last_error_log = now
            log.error("%s; scans are kept in memory meanwhile (%d so far)", message, self.write_failures)

    def sync(self) -> None:
        """Make what was written since the last sync durable (the flusher, every interval); close
        full segments, cut to their records."""
        with self._lock:
            closing, self._closing = self._closing, []
            dirty, self._dirty = self._dirty, False
            names, self._new_names = self._new_names, False
            view, active = self._map, self._fd
        try:
            # fdatasync, not the map's flush(): it writes the same pages (Linux keeps one cache per
            # file), but lets go of the interpreter lock meanwhile, so scans go on being answered.
            for fd, old, end in closing:
                old.close()
                os.ftruncate(fd, end)
                os.fsync(fd)
                os.close(fd)
            if dirty and view is not None:
                os.fdatasync(active)
            if names:
                directory = os.open(self.path, os.O_RDONLY)
                try:
                    os.fsync(directory)  # the names of new segments too
                finally:
                    os.close(directory)
        except (OSError, ValueError) as err:  # ValueError: a map closed meanwhile by a stop
            self._log_error(f"cannot sync the scan journal {self.path}: {err}")

    # What Segments needs --------------------------------------------------------------

    def numbers(self) -> list[int]:
        with self._lock:
            return sorted(self._ends)

    def bounds(self, number: int) -> tuple[int, bool]:
        with self._lock:
            return self._ends.get(number, 0), number == self._active and self._map is not None

    def _forget(self, number: int) -> None:
        with self._lock:
            self._ends.pop(number, None)

    def segments(self) -> int:
        return len(self._ends)

    @property
    def writable(self) -> bool:
        """Whether scans reach the disk: open, and its last write (or opening) did not fail."""
        return self._map is not None and self.error is None


class Orphan(Segments):
    """The journal of a process that is gone, locked by this one while it stores what it holds."""

    def __init__(self, path: Path, lock_fd: int):
        super().__init__(path)
        self.lock_fd = lock_fd
        self._sizes: dict[int, int] = {}  # segment number -> where its records end
        self.records = 0  # for /healthz
        for number in _segment_numbers(path):
            self.records += self._walk(number)

    def _walk(self, number: int) -> int:
        """How many records a segment holds, by their lengths alone (the CRCs are checked when it
        is read), and where they end: a segment its process never filled ends in zeros."""
        data = (self.path / _segment_name(number)).read_bytes()
        n, offset = 0, len(MAGIC)
        while offset + FRAME.size <= len(data):
            length = FRAME.unpack_from(data, offset)[0]
            if length == 0 or offset + FRAME.size + length > len(data):
                break
            offset += FRAME.size + length
            n += 1
        # A frame cut short stays inside the end, so that reading it says so.
        tail = data[offset : offset + FRAME.size]
        self._sizes[number] = offset if not tail.strip(b"\0") else len(data)
        return n

    def numbers(self) -> list[int]:
        return sorted(self._sizes)

    def bounds(self, number: int) -> tuple[int, bool]:
        return self._sizes.get(number, 0), False

    def _forget(self, number: int) -> None:
        self._sizes.pop(number, None)

    def segments(self) -> int:
        return len(self._sizes)

    def retire(self) -> None:
        """Everything is stored: delete the folder, then let go of its lock."""
        self._close_read()
        retire(self.path)
        os.close(self.lock_fd)

    def release(self) -> None:
        """Let go of it unfinished (a stop): the next process to start takes it over."""
        self._close_read()
        os.close(self.lock_fd)


def retire(path: Path) -> bool:
    """Delete a journal folder whose records are all stored (segments first, the lock last)."""
    try:
        for number in _segment_numbers(path):
            os.unlink(path / _segment_name(number))
        os.unlink(path / "lock")
        os.rmdir(path)
    except OSError as err:
        log.warning("could not delete the stored scan journal %s: %s", path, err)
        return False
    return True


def orphans(root: Path, own: str) -> list[Orphan]:
    """The journals in `root` whose process is gone, each now locked by this process."""
    found = []
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError:
        return found
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False) or entry.name == own:
            continue
        path = Path(entry.path)
        if entry.name.startswith(".new-"):
            _remove_stale_draft(path)
            continue
        try:
            fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its process is alive
            os.close(fd)
            continue
        try:
            found.append(Orphan(path, fd))
        except OSError as err:
            log.error("cannot read the scan journal %s left by a stopped process: %s", path, err)
            os.close(fd)
    return found


def _remove_stale_draft(path: Path) -> None:
    """A folder a process began but never locked and renamed (it died in between): nothing in it."""
    try:
        if time.time() - path.stat().st_mtime < STALE_NEW:
            return  # perhaps being made right now
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    except OSError:
        pass
