"""A real S3-compatible server for tests: moto's server mode (``moto[server]``, a dev
dependency) as a subprocess on a free port, with a bucket for the blob store's tests.

:func:`s3_environment` gives the ``AWS_*`` variables that point boto3 (in the test process and
in workers) at it. A missing ``moto`` fails with the fix; it never skips.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import free_port

BUCKET = "bgmigrate-test-blobs"
"""The bucket every test blob store uses (created at start)."""
NO_MOTO_FIX = "moto is not installed: pip install 'moto[server]' (it is in bgmigrate's dev extra)"


class S3Unavailable(RuntimeError):
    """The S3-compatible server cannot be started; the message says how to fix it."""


@dataclass
class S3Server:
    """One moto server process and its log."""

    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bgmigrate-s3-")))
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """The server's URL, for ``AWS_ENDPOINT_URL``."""
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """``AWS_*`` variables that point boto3 at this server (its credentials are dummies)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self, timeout: float = 30.0) -> None:
        """Start the server, wait until it answers, and create :data:`BUCKET`."""
        if importlib.util.find_spec("moto") is None:
            raise S3Unavailable(NO_MOTO_FIX)
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        with (self.workdir / "moto.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._ready, timeout=timeout, what=f"moto server on port {self.port}")
            # moto loads S3's models on its first request: slow on a loaded machine.
            request = urllib.request.Request(f"{self.endpoint}/{BUCKET}", method="PUT")
            urllib.request.urlopen(request, timeout=timeout).close()
        except BaseException:
            self.stop()  # a server that did not come up is not left running
            raise

    def stop(self) -> None:
        """Stop the server, wait for it, and remove its log."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = (self.workdir / "moto.log").read_text(errors="replace")[-2000:]
            raise S3Unavailable(f"moto server on port {self.port} exited:\n{tail}")
        try:
            urllib.request.urlopen(self.endpoint, timeout=1).close()
        except (urllib.error.URLError, TimeoutError):  # a slow answer is not yet an answer
            return False
        return True
