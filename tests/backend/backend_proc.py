"""A test driver for the backend service: spawn it, send dicts, wait for events with timeouts."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable


class BackendProcess:
    def __init__(self, env: dict[str, str], runs_dir: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "img23d_backend", "serve", "--models", "tiny", "--device", "cpu",
             "--out", str(runs_dir), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.events: "queue.Queue[dict[str, Any]]" = queue.Queue()
        self.garbage: list[bytes] = []
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.seen: list[dict[str, Any]] = []

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.garbage.append(line)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace"))

    def send(self, message: dict[str, Any] | bytes) -> None:
        assert self.proc.stdin is not None
        data = message if isinstance(message, bytes) else (json.dumps({"v": 1, **message}) + "\n").encode()
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def next(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> dict[str, Any]:
        """The next event matching ``predicate``; every event read is kept in ``seen``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching event in {timeout}s; stderr tail: {''.join(self.stderr_lines[-20:])}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(event)
            if predicate(event):
                return event

    def reply(self, request_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The result or error that answers ``request_id``."""
        return self.next(lambda e: e.get("type") in ("result", "error") and e.get("id") == request_id
                         and not e.get("target"), timeout)

    def request(self, message: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        self.send(message)
        return self.reply(message["id"], timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
