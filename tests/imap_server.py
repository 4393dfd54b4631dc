"""A real IMAP server on 127.0.0.1 for tests: pymap (a Python IMAP server) with its in-memory
backend and one user, run as a separate process on a free port and stopped after the test."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .postgres import free_port

USER = "reports"
PASSWORD = "imap-test-password"
_RUN_PYMAP = "import sys; from pymap.main import main; sys.exit(main())"


@dataclass(frozen=True)
class ImapServer:
    port: int

    def url(self, mailbox: str = "INBOX") -> str:
        return f"imap://127.0.0.1:{self.port}/{mailbox}"


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _RUN_PYMAP, "--host", "127.0.0.1", "--port", str(port),
         "--no-tls", "dict", "--demo-user", USER, "--demo-password", PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    why = process.stderr.read().decode() if process.stderr and \
                        process.poll() is not None else "it did not listen within 30 s"
                    raise RuntimeError(f"the IMAP server (pymap) did not start: {why}") \
                        from None
                time.sleep(0.05)
        yield ImapServer(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
