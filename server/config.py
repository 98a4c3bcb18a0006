"""Server configuration: a frozen dataclass built once at the entry point from flags and DESCENT_* env vars."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from server.checkpoints import CheckpointPolicy


def default_state_dir() -> Path:
    """``$DESCENT_STATE_DIR``, else ``$XDG_STATE_HOME/descent``, else ``~/.local/state/descent``."""
    if os.environ.get("DESCENT_STATE_DIR"):
        return Path(os.environ["DESCENT_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "descent"


@dataclass(frozen=True)
class ServerConfig:
    """Where to listen, where to keep state, which Ray cluster to use."""

    host: str = "127.0.0.1"
    port: int = 50051
    state_dir: Path = Path(".")
    ray_address: str | None = None
    num_cpus: int | None = None
    advertise_address: str | None = None
    announce: bool = False
    # Each worker holds one PushStream (one server thread) for its job's length.
    max_threads: int = 256
    checkpoints: CheckpointPolicy = CheckpointPolicy()
    # Resume orphaned jobs (unfinished, their server gone); False ends them FAILED.
    resume: bool = True
    # Seconds a job may wait QUEUED for CPUs, and without any update applied, before it fails.
    queue_timeout: float = 3600.0
    stall_timeout: float = 120.0
    # An embedded server's client: stop (as on SIGTERM) once that process is gone.
    parent_pid: int | None = None


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    """Build the config from command-line flags, with DESCENT_* env vars as defaults."""
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m server", description="descent parameter server")
    parser.add_argument("--host", default=env.get("DESCENT_HOST", "127.0.0.1"), help="address to listen on")
    parser.add_argument("--port", type=int, default=int(env.get("DESCENT_PORT", "50051")), help="0 picks a free port")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir(), help="where jobs and weights are kept")
    parser.add_argument(
        "--ray-address", default=env.get("DESCENT_RAY_ADDRESS") or None, help="join this Ray cluster (default: start local Ray)"
    )
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray cluster (default: all)")
    parser.add_argument(
        "--advertise-address",
        default=env.get("DESCENT_ADVERTISE_ADDRESS") or None,
        help="HOST:PORT at which Ray workers reach this server (default: this node's IP and the bound port)",
    )
    parser.add_argument("--announce", action="store_true", help="print 'descent-server listening on HOST:PORT' when ready")
    default_policy = CheckpointPolicy()
    parser.add_argument(
        "--checkpoint-every", type=int, default=int(env.get("DESCENT_CHECKPOINT_EVERY", default_policy.every_updates)),
        help="checkpoint a running job every N updates (or --checkpoint-seconds, whichever comes first)",
    )
    parser.add_argument(
        "--checkpoint-seconds", type=float,
        default=float(env.get("DESCENT_CHECKPOINT_SECONDS", default_policy.every_seconds)),
        help="checkpoint a running job every S seconds; 0 turns periodic checkpoints off",
    )
    parser.add_argument(
        "--no-resume", action="store_true",
        help="end orphaned jobs (unfinished, their server gone) FAILED instead of resuming them",
    )
    parser.add_argument(
        "--queue-timeout", type=float, default=float(env.get("DESCENT_QUEUE_TIMEOUT", "3600")),
        help="seconds a job may wait QUEUED for free CPUs before it fails (default 3600)",
    )
    parser.add_argument(
        "--stall-timeout", type=float, default=float(env.get("DESCENT_STALL_TIMEOUT", "120")),
        help="seconds a running job may apply no update (all its workers lost) before it fails (default 120)",
    )
    parser.add_argument(
        "--exit-with-parent", type=int, default=None, metavar="PID",
        help="stop (as on SIGTERM) when process PID is gone: an embedded server follows its CLI command",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in [0, 65535], got {args.port}")
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error(f"--num-cpus must be at least 1, got {args.num_cpus}")
    if args.checkpoint_every < 1:
        parser.error(f"--checkpoint-every must be at least 1, got {args.checkpoint_every}")
    if not args.checkpoint_seconds >= 0 or args.checkpoint_seconds == float("inf"):
        parser.error(f"--checkpoint-seconds must be a finite number >= 0, got {args.checkpoint_seconds}")
    for name in ("queue_timeout", "stall_timeout"):
        value = getattr(args, name)
        if not (0 < value < float("inf")):
            parser.error(f"--{name.replace('_', '-')} must be a positive number of seconds, got {value}")
    return ServerConfig(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir.expanduser(),
        ray_address=args.ray_address,
        num_cpus=args.num_cpus,
        advertise_address=args.advertise_address,
        announce=args.announce,
        checkpoints=CheckpointPolicy(
            every_updates=args.checkpoint_every,
            every_seconds=args.checkpoint_seconds,
            enabled=args.checkpoint_seconds > 0,
        ),
        resume=not args.no_resume,
        queue_timeout=args.queue_timeout,
        stall_timeout=args.stall_timeout,
        parent_pid=args.exit_with_parent,
    )
