"""Server configuration: a frozen dataclass built once at the entry point from flags and DESCENT_* env vars."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from server.cluster.data_cache import DEFAULT_BLOCK_BYTES, DEFAULT_MAX_BYTES
from server.jobs.checkpoints import CheckpointPolicy
from server.limits import FLAGS, FLOPS_ENV, FLOPS_LIMITS, Limits, default_request_memory, parse_bytes
from server.observe.logs import FORMATS

#: Name of the token file a server writes into its state directory when no token was given.
TOKEN_FILE = "server.token"


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
    # Bearer token every Trainer and ParameterServer call must carry (health checks stay open).
    token: str = ""
    # PEM files: with both, the server speaks TLS only.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None  # what workers verify the server with (default: tls_cert, if self-signed)
    # Data sets are read only under these directories (server.rpc.data_roots).
    data_roots: tuple[Path, ...] = (Path("."),)
    limits: Limits = field(default_factory=Limits)
    checkpoints: CheckpointPolicy = CheckpointPolicy()
    # Resume orphaned jobs (unfinished, their server gone); False ends them FAILED.
    resume: bool = True
    # Seconds a job may wait QUEUED for CPUs, and without any update applied, before it fails.
    queue_timeout: float = 3600.0
    stall_timeout: float = 120.0
    # An embedded server's client: stop (as on SIGTERM) once that process is gone.
    parent_pid: int | None = None
    # Serve Prometheus metrics over HTTP on this port (same host; no token: internal networks only).
    metrics_port: int | None = None
    # Log lines as logfmt ("text") or JSON lines ("json"): server.observe.logs.
    log_format: str = "text"
    # Offer workers on this host a shared-memory lane for W and gradients (proto.shared_memory).
    shared_memory: bool = True
    # Prepared data sets kept in the object store for later jobs, and one stored block of a
    # large training split (server.cluster.data_cache).
    data_cache_bytes: int = DEFAULT_MAX_BYTES
    data_block_bytes: int = DEFAULT_BLOCK_BYTES


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    """The server's flags, with DESCENT_* env vars as their defaults."""
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
    parser.add_argument(
        "--token-file", type=Path, default=env.get("DESCENT_TOKEN_FILE") or None,
        help="file holding the bearer token clients and workers must send (default: $DESCENT_TOKEN, else a "
        f"fresh token written to STATE_DIR/{TOKEN_FILE})",
    )
    parser.add_argument("--tls-cert", type=Path, default=env.get("DESCENT_TLS_CERT") or None, help="PEM certificate (TLS)")
    parser.add_argument("--tls-key", type=Path, default=env.get("DESCENT_TLS_KEY") or None, help="PEM private key (TLS)")
    parser.add_argument(
        "--tls-ca", type=Path, default=env.get("DESCENT_TLS_CA") or None,
        help="PEM CA that signed --tls-cert; Ray workers verify the server with it (default: --tls-cert itself)",
    )
    parser.add_argument(
        "--data-root", type=Path, action="append", default=None,
        help="directory data sets are read from (repeatable; default $DESCENT_DATA_ROOTS, else the working directory)",
    )
    defaults = Limits(request_memory=default_request_memory())
    parser.add_argument("--max-request-memory", default=env.get("DESCENT_MAX_REQUEST_MEMORY"),
                        help="bytes one job or analysis may allocate, e.g. 4G (default: half the machine's memory)")
    for name, flag in FLAGS.items():
        if name != "request_memory":
            value, kind, shown = getattr(defaults, name), int, f"{getattr(defaults, name)}"
            if name in FLOPS_LIMITS:  # a string default is parsed as the flag is: a bad value is a usage error
                value, kind, shown = env.get(FLOPS_ENV[name], f"{value:g}"), float, f"${FLOPS_ENV[name]}, else {value:g}"
            parser.add_argument(flag, dest=name, type=kind, default=value, help=f"limit (default {shown})")
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
    parser.add_argument(
        "--metrics-port", type=int, default=int(env["DESCENT_METRICS_PORT"]) if env.get("DESCENT_METRICS_PORT") else None,
        help="serve Prometheus metrics on http://HOST:PORT/metrics (no token: keep it on an internal network)",
    )
    parser.add_argument(
        "--log-format", choices=FORMATS, default=env.get("DESCENT_LOG_FORMAT", "text"),
        help="log lines as logfmt (text, the default) or JSON lines (json); job events carry their fields",
    )
    parser.add_argument(
        "--no-shared-memory", dest="shared_memory", action="store_false",
        default=env.get("DESCENT_SHARED_MEMORY", "1") not in ("0", "false", "no"),
        help="send W and gradients over gRPC even to workers on this host (default: a shared-memory lane in /dev/shm)",
    )
    parser.add_argument(
        "--data-cache", default=env.get("DESCENT_DATA_CACHE") or "2G",
        help="bytes of prepared data sets kept in Ray's object store for later jobs, least recently used "
             "dropped first (default 2G)",
    )
    parser.add_argument(
        "--data-block", default=env.get("DESCENT_DATA_BLOCK") or "64M",
        help="a large training split is prepared and stored in blocks of at most this many bytes: "
             "at the peak the data set exists once plus one block (default 64M, at least 1M)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    """Build the config from command-line flags, with DESCENT_* env vars as defaults; a bad value
    ends the process with argparse's usage error (exit 2) naming the flag."""
    env = os.environ
    parser = _parser(env)
    args = parser.parse_args(argv)
    defaults = Limits(request_memory=default_request_memory())
    roots = [Path(p) for p in env.get("DESCENT_DATA_ROOTS", "").split(os.pathsep) if p]
    data_bytes = {}
    for flag, value, least in (("--data-cache", args.data_cache, 0), ("--data-block", args.data_block, 1 << 20)):
        try:
            data_bytes[flag] = parse_bytes(value)
        except ValueError as error:
            parser.error(f"{flag}: {error}")
        if data_bytes[flag] < least:
            parser.error(f"{flag} must be at least {'1M' if least else '0'}, got {value}")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in [0, 65535], got {args.port}")
    if args.metrics_port is not None and not 1 <= args.metrics_port <= 65535:
        parser.error(f"--metrics-port must be in [1, 65535], got {args.metrics_port}")
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error(f"--num-cpus must be at least 1, got {args.num_cpus}")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    try:
        memory = parse_bytes(args.max_request_memory) if args.max_request_memory else defaults.request_memory
    except ValueError as error:
        parser.error(f"--max-request-memory: {error}")
    numbers = {name: getattr(args, name) for name in FLAGS if name != "request_memory"}
    for name, value in numbers.items():
        if not 1 <= value < float("inf"):
            parser.error(f"{FLAGS[name]} must be at least 1, got {value}" + (" (finite)" if value >= 1 else ""))
    state_dir = args.state_dir.expanduser()
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
        state_dir=state_dir,
        ray_address=args.ray_address,
        num_cpus=args.num_cpus,
        advertise_address=args.advertise_address,
        announce=args.announce,
        token=_token(args.token_file, state_dir, parser),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_ca=args.tls_ca or args.tls_cert,
        data_roots=tuple(args.data_root or roots or [Path.cwd()]),
        limits=Limits(request_memory=memory, **numbers),
        checkpoints=CheckpointPolicy(
            every_updates=args.checkpoint_every,
            every_seconds=args.checkpoint_seconds,
            enabled=args.checkpoint_seconds > 0,
        ),
        resume=not args.no_resume,
        queue_timeout=args.queue_timeout,
        stall_timeout=args.stall_timeout,
        parent_pid=args.exit_with_parent,
        metrics_port=args.metrics_port,
        log_format=args.log_format,
        shared_memory=args.shared_memory,
        data_cache_bytes=data_bytes["--data-cache"],
        data_block_bytes=data_bytes["--data-block"],
    )


def _token(token_file: Path | None, state_dir: Path, parser: argparse.ArgumentParser) -> str:
    """The token from --token-file, else $DESCENT_TOKEN, else a fresh one written (0600) to the state directory."""
    if token_file is not None:
        try:
            token = token_file.expanduser().read_text().strip()
        except OSError as error:
            parser.error(f"--token-file: {error}")
        if not token:
            parser.error(f"--token-file {token_file} is empty")
        return token
    if os.environ.get("DESCENT_TOKEN", "").strip():
        return os.environ["DESCENT_TOKEN"].strip()
    token = secrets.token_urlsafe(32)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    logging.getLogger("descent.server").info("no token given: a fresh one is in %s (0600)", path)
    return token
