"""A real `transformers serve` on 127.0.0.1 for the tests: started and stopped by them, bounded in
time, its requests counted on the server side (uvicorn's access log)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

START_TIMEOUT_S = 240  # loading SmolLM2 on 2 cores takes about 10-20 s
COMPLETIONS = "POST /v1/chat/completions"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TransformersServer:
    """``transformers serve FOLDER`` on a free port of 127.0.0.1 (or ``port``: a server
    restarted where the last one was), logging every request."""

    def __init__(self, folder: Path, log: Path, port: int | None = None):
        self.folder, self.log_path = folder, log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> TransformersServer:
        command = shutil.which("transformers")
        assert command, "transformers serve needs the transformers[serving] extra"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [command, "serve", str(self.folder), "--host", "127.0.0.1", "--port",
             str(self.port), "--device", "cpu", "--log-level", "info"],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited: {self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"transformers serve not up after {START_TIMEOUT_S} s")

    def requests(self) -> int:
        """Chat completions the server has received (its access log)."""
        return self.log_path.read_text(errors="replace").count(COMPLETIONS)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if not self._log.closed:
            self._log.close()

    def __exit__(self, *exc) -> None:
        self.stop()
