"""A shared-memory lane for a worker on the server's own host: W and the gradient skip gRPC.

Over loopback gRPC costs the server ~190 us of CPU per message even for a tiny one (the
sync and asyncio servers alike, measured here), plus the copies of W and the gradient
through HTTP/2 frames and the kernel (a raw echo of a 10 x 3073 float32 W: ~230 us per
round trip; of a 1000 x 3073 W: ~14 ms). A worker on the server's host (every worker of
a local cluster) instead shares a lane with the server: a file in /dev/shm that both
map, holding W and the gradient, and a unix SEQPACKET socket in the abstract namespace
(same name) that carries one small message each way per step — the push's version,
loss and update count, and the reply's version and stop flag.

Layout of a segment: a 64-byte header (magic, W's byte count, a random token), the W
area, the gradient area (each 64-byte aligned). The file is 0600 and its whole size is
reserved with ``posix_fallocate`` when it is created, so a full tmpfs (Docker's default
/dev/shm is 64 MB) fails there, cleanly, and never later as a SIGBUS on first touch.

Handshake (server.rpc.parameter_servicer, server.rpc.shm_lane, worker.task.wire): the worker's first
PushStream request offers shared memory; if the worker's address is one of the server
host's own, the reply (W as bytes, as always) names the lane and its token. The worker
maps the file and checks the token in its header, connects to the socket and sends the
token (the server takes only a connection from its own user, by SO_PEERCRED, that sends
the token: abstract sockets have no file permissions); only then does it send a second request
with ``shared_memory`` set, and from then on pushes and replies use the lane while the
gRPC call stays open for its end status. A worker that cannot (another host or
container: neither the file nor the socket is visible there) pushes bytes as before and
the server drops the lane. The server unlinks the file's name once the worker has
mapped it or never will; from then on the memory lives exactly as long as the two
mappings, however either process ends (kill -9 included), and a closed socket tells
each side at once that the other is gone. A name left by a server killed inside the
handshake carries its pid, and the next server on the host removes it (``sweep``).

Order: the worker writes the gradient area, then sends its push; the server reads the
area, writes the W area, then replies; the worker copies W out when the reply arrives.
The socket send and receive between them order the memory accesses, and neither side
touches an area the other owns. The server copies the gradient out before it validates
it, so a worker writing late cannot change what was validated.
"""

from __future__ import annotations

import hmac
import mmap
import os
import re
import secrets
import struct
from pathlib import Path

import numpy as np

SHM_DIR = Path("/dev/shm")
MAGIC = b"descent\x01"
HEADER = 64
_ALIGN = 64
_HEAD = struct.Struct("<8sQ16s")  # magic, W's bytes, token
_NAME = re.compile(r"^descent-(\d{1,7})-[0-9a-f]{24}$")  # Linux pids are at most 4,194,304
TOKEN_BYTES = 16
#: Worker to server on the socket: the version the gradient was computed on, its batch loss, its updates.
PUSH = struct.Struct("<qdi")
#: Server to worker: W's version now (W is in the segment) and whether to stop.
REPLY = struct.Struct("<q?")


def socket_address(name: str) -> str:
    """The lane's unix socket: in the abstract namespace (no file; gone with the server's socket)."""
    return "\0" + name


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _size(nbytes: int) -> int:
    return HEADER + 2 * _aligned(max(nbytes, 1))


class Segment:
    """One stream's shared memory: ``weights`` and ``gradient`` are views of the mapped file."""

    def __init__(self, name: str, token: bytes, buffer: mmap.mmap, shape: tuple[int, ...], dtype: np.dtype):
        self.name, self.token = name, token
        self._buffer: mmap.mmap | None = buffer
        count = int(np.prod(shape))
        nbytes = count * dtype.itemsize
        self.weights = np.frombuffer(buffer, dtype, count, HEADER).reshape(shape)
        self.gradient = np.frombuffer(buffer, dtype, count, HEADER + _aligned(max(nbytes, 1))).reshape(shape)

    @property
    def path(self) -> Path:
        return SHM_DIR / self.name

    @classmethod
    def create(cls, shape: tuple[int, ...], dtype: np.dtype) -> Segment | None:
        """A new segment for W of ``shape``/``dtype``, or None where shared memory cannot hold it."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        name = f"descent-{os.getpid()}-{secrets.token_hex(12)}"
        path = SHM_DIR / name
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:  # no /dev/shm, read-only, ...
            return None
        try:
            os.posix_fallocate(fd, 0, _size(nbytes))  # all of it now: ENOSPC here, not SIGBUS later
            buffer = mmap.mmap(fd, _size(nbytes))
        except OSError:
            _unlink(path)
            return None
        finally:
            os.close(fd)
        token = secrets.token_bytes(TOKEN_BYTES)
        buffer[: _HEAD.size] = _HEAD.pack(MAGIC, nbytes, token)
        return cls(name, token, buffer, tuple(shape), dtype)

    @classmethod
    def attach(cls, name: str, token: bytes, shape: tuple[int, ...], dtype: np.dtype) -> Segment | None:
        """Map the segment the server named, or None unless it is there, its size fits and its token matches."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if not _NAME.match(name) or len(token) != TOKEN_BYTES:
            return None
        try:
            fd = os.open(SHM_DIR / name, os.O_RDWR)
        except OSError:  # another host or container: not visible here
            return None
        try:
            if os.fstat(fd).st_size != _size(nbytes):
                return None
            buffer = mmap.mmap(fd, _size(nbytes))
        except OSError:
            return None
        finally:
            os.close(fd)
        magic, size, written = _HEAD.unpack(buffer[: _HEAD.size])
        if magic != MAGIC or size != nbytes or not hmac.compare_digest(written, token):
            return None
        return cls(name, token, buffer, tuple(shape), dtype)

    def close(self) -> None:
        """Unmap now (idempotent): ``weights`` and ``gradient`` go with it. Where a view of them is
        still held elsewhere, the mapping is left to go with the last view."""
        buffer, self._buffer = self._buffer, None
        if buffer is None:
            return
        del self.weights, self.gradient
        try:
            buffer.close()
        except BufferError:  # a view is still exported
            pass

    def unlink(self) -> None:
        """Remove the name (idempotent); the memory stays until both sides unmap it."""
        _unlink(self.path)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:  # someone else's process: alive
        return True
    except (OSError, OverflowError, ValueError):  # no such process, or no pid this kernel could have
        return False
    return True


def sweep() -> int:
    """Remove segment names left by servers on this host that are no longer running; return how many."""
    removed = 0
    try:
        entries = list(SHM_DIR.iterdir())
    except OSError:
        return 0
    for path in entries:
        match = _NAME.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            if path.is_file() and not path.is_symlink():
                _unlink(path)
                removed += 1
    return removed
