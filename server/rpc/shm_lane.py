"""The server's end of one PushStream's shared-memory lane (proto.shared_memory).

A ``Lane`` is opened when a placed worker's first request offers shared memory and the
server may use it (``--no-shared-memory`` turns it off): a segment for W and the
gradient, and a listening socket that takes one connection. ``accept`` takes the
worker's connection once its second request says it has connected (its first message
must be the lane's token). ``serve`` then answers pushes on the socket until the store
says stop or the worker goes: each push hands the store a private copy of the gradient
(so what is validated is what is applied) and the lane as the reply's encoding, which
writes W into the segment under the store's lock. The thread that runs ``serve`` is the
stream's own gRPC thread, which held the call anyway; it looks at the call and the
socket every ``POLL`` seconds while no push comes.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable

import numpy as np

from proto import descent_pb2
from proto.shared_memory import PUSH, REPLY, TOKEN_BYTES, Segment, socket_address, sweep
from server.errors import Cancelled, RequestError
from server.params.snapshots import Snapshot

#: Seconds between looks at the call while the socket is quiet.
POLL = 1.0
#: Seconds the worker has to connect and send its token once it said it had.
ACCEPT_TIMEOUT = 2.0
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
_HANGUP = select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)

_swept = threading.Event()

#: push(gradient, loss, version, updates, encode, alive) -> the W to continue from.
LanePush = Callable[[np.ndarray, float, int, int, Callable, Callable[[], bool]], Snapshot]
Observe = Callable[[float, float], None]


def host_addresses(extra: tuple[str, ...] = ()) -> frozenset[str]:
    """This host's own IP addresses (its name's, and ``extra``: e.g. the Ray node IP workers dial)."""
    addresses = set()
    for name in (socket.gethostname(), *extra):
        try:
            addresses.update(info[4][0] for info in socket.getaddrinfo(name, None))
        except OSError:
            continue
    return frozenset(addresses)


def local_peer(peer: str, addresses: frozenset[str]) -> bool:
    """Whether a gRPC peer ("ipv4:IP:PORT", "ipv6:[IP]:PORT", "unix:...") is on this host: only such a
    worker can map a lane, so only it is offered one (a segment costs 2 x W of RAM until used)."""
    if peer.startswith("unix"):
        return True
    kind, _, rest = peer.partition(":")
    host = rest.rsplit(":", 1)[0].strip("[]") if kind in ("ipv4", "ipv6") else ""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return ip.is_loopback or str(ip) in addresses


class Lane:
    """One stream's segment and socket, seen from the server."""

    #: The store calls this encoding for every reply (no per-version cache: each lane is its own target).
    uncached = True

    def __init__(self, segment: Segment, listener: socket.socket):
        self._segment = segment
        self._listener: socket.socket | None = listener
        self._conn: socket.socket | None = None
        self._scratch = np.empty_like(segment.gradient)
        self._linked = True

    @classmethod
    def open(cls, shape: tuple[int, ...], dtype: np.dtype) -> Lane | None:
        """A lane for W of this shape and dtype, or None where this host cannot offer one."""
        if not _swept.is_set():  # once per server: names left by servers killed mid-handshake
            _swept.set()
            try:
                sweep()
            except OSError:
                pass
        segment = Segment.create(shape, dtype)
        if segment is None:
            return None
        try:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            listener.bind(socket_address(segment.name))
            listener.listen(8)  # room for the worker behind a few strangers (only its connection is taken)
        except OSError:
            segment.unlink()
            return None
        return cls(segment, listener)

    def offer(self) -> bytes:
        """The serialized fields that name the lane in the first reply (appended to it)."""
        return descent_pb2.Parameters(
            shared_memory=self._segment.name, shared_memory_token=self._segment.token
        ).SerializeToString()

    def accept(self) -> None:
        """Take the worker's connection (it connected before saying so); RequestError if none came.

        Abstract sockets have no file permissions, so a connection counts only if its peer
        runs as this server's user (SO_PEERCRED) and its first message is the lane's token;
        any other is closed and the next one taken, until ACCEPT_TIMEOUT.
        """
        if self._listener is None or self._conn is not None:
            raise RequestError("shared_memory: this stream has no lane waiting for its worker")
        deadline = time.monotonic() + ACCEPT_TIMEOUT
        try:
            while (left := deadline - time.monotonic()) > 0:
                self._listener.settimeout(left)
                try:
                    conn, _ = self._listener.accept()
                except OSError:
                    break
                if self._admit(conn, deadline):
                    conn.settimeout(POLL)
                    self._conn = conn
                    return
                conn.close()
        finally:
            self._close_listener()
            self.settle()
        raise RequestError("shared_memory: the worker said it connected to the lane, but no connection sent its token")

    def _admit(self, conn: socket.socket, deadline: float) -> bool:
        """Whether ``conn`` comes from this user and sends the lane's token."""
        try:
            _, uid, _ = _CREDENTIALS.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
            if uid != os.getuid():
                return False
            conn.settimeout(max(0.001, deadline - time.monotonic()))
            token = conn.recv(64)
        except OSError:
            return False
        return len(token) == TOKEN_BYTES and hmac.compare_digest(token, self._segment.token)

    def gradient(self) -> np.ndarray:
        """The pushed gradient, copied out of the segment."""
        np.copyto(self._scratch, self._segment.gradient)
        return self._scratch

    def __call__(self, weights: np.ndarray, version: int) -> bytes:
        """Write W into the segment (the store calls this under its lock)."""
        np.copyto(self._segment.weights, weights)
        return b""

    def connected(self) -> bool:
        """Whether the worker's end of the socket is still open."""
        if self._conn is None:
            return False
        poller = select.poll()
        poller.register(self._conn, _HANGUP)
        return not poller.poll(0)

    def serve(self, push: LanePush, alive: Callable[[], bool], observe: Observe | None = None) -> Snapshot | None:
        """Answer pushes until the store says stop (return that snapshot) or the worker goes (None).

        ``observe(wall_seconds, cpu_seconds)`` is told each push's time from its message to its reply.
        """
        conn = self._conn
        assert conn is not None, "accept first"

        def still_there() -> bool:
            return alive() and self.connected()

        while True:
            try:
                message = conn.recv(64)
            except TimeoutError:
                if not still_there():
                    raise Cancelled("the worker's call ended") from None
                continue
            except OSError:  # reset: the worker is gone
                return None
            if not message:  # closed: the worker is gone
                return None
            if len(message) != PUSH.size:
                raise RequestError(f"lane message of {len(message)} bytes, expected {PUSH.size}")
            wall0, cpu0 = time.perf_counter(), time.thread_time()
            version, loss, updates = PUSH.unpack(message)
            snap = push(self.gradient(), loss, version, updates, self, still_there)
            try:
                conn.send(REPLY.pack(snap.version, snap.stop))
            except OSError:
                return None
            if observe is not None:
                observe(time.perf_counter() - wall0, time.thread_time() - cpu0)
            if snap.stop:
                return snap

    def settle(self) -> None:
        """The worker has mapped the segment or never will: drop its name (once)."""
        if self._linked:
            self._linked = False
            self._segment.unlink()

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def close(self) -> None:
        """Drop the name, close both sockets and unmap the segment (the memory goes with the worker's mapping)."""
        self.settle()
        self._close_listener()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._segment.close()
