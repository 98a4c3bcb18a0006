"""The workers a job placed: each enrolled with a fresh secret; only they may push or pull.

The parameter service checks every call's (worker id, secret) here before it touches W, so a
process that was not placed by the job — or a worker whose secret was replaced — is refused.
The members are the enrolled workers that have not left: an elastic job's worker that leaves
(retired, or dead) keeps its secret, so its next push is answered (with stop), but no longer
counts in a sync step's barrier or an ssp clock; enrolling it again makes it a member again.
"""

from __future__ import annotations

import hmac
import secrets
import threading

from server.errors import PermissionDenied, echo


class Enrollment:
    """Worker ids and their secrets, behind a lock of its own."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}
        self._ids: tuple[str, ...] = ()  # the members, replaced whole on a change: read on every push without a lock
        self._left: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def enroll(self, worker_id: str) -> str:
        """A fresh secret for ``worker_id`` (replacing any it had)."""
        secret = secrets.token_hex(16)
        with self._lock:
            self._secrets[worker_id] = secret
            self._left = self._left - {worker_id}
            self._ids = tuple(worker for worker in self._secrets if worker not in self._left)
        return secret

    def leave(self, worker_id: str) -> bool:
        """``worker_id`` is no longer a member (it may still authorize); return whether it was one."""
        with self._lock:
            if worker_id not in self._ids:
                return False
            self._left = self._left | {worker_id}
            self._ids = tuple(worker for worker in self._ids if worker != worker_id)
        return True

    def has_left(self, worker_id: str) -> bool:
        """Whether ``worker_id`` left (no lock: the set is replaced whole)."""
        return worker_id in self._left

    def authorize(self, worker_id: str, secret: str) -> None:
        """Raise PermissionDenied unless ``secret`` is the one ``worker_id`` was enrolled with."""
        with self._lock:
            expected = self._secrets.get(worker_id)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode("utf-8", "replace")):
            raise PermissionDenied(
                f"worker {echo(worker_id)} is not one this job placed (or its secret is wrong): "
                "only the job's own workers may push or pull"
            )

    def workers(self) -> tuple[str, ...]:
        """The members' ids, in enrollment order (no lock, no copy: the store asks on every push)."""
        return self._ids
