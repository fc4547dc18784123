"""A hostile or broken stand-in for the backend, for the add-on's bounds (tests/addon/test_hostile_host.py).

    hostile_backend.py MODE [the real backend's arguments, ignored]

  long_line MB      MB megabytes on stdout without a newline, then a proper hello; waits for stdin to close
  endless_line      hello; a job gets one progress event, then a line that never ends
  flood             hello, then valid progress events for no job, as fast as the pipe takes them
  stderr MB         hello, then MB megabytes on stderr; waits for stdin to close
  version           every line (its hello first) carries protocol major 2
  hello_again       hello; a job gets one progress event, then a second hello
  chatter           hello; a job gets garbage lines and progress for another job, never its own
  hang              hello; a job gets one progress event, then nothing (shutdown is ignored; EOF ends it)
  bad_hello         a hello whose memory is a string and whose limits are a list
  deaf_flood        hello, then floods progress for no job and never reads its input again
  bad_field         hello; a job gets a progress event whose step is text, then an error whose target is 5
  newer_event       hello; a job gets an event of a type a newer minor version adds, then its own error
"""

from __future__ import annotations

import json
import sys
import time


def send(message: dict, major: int = 1) -> None:
    sys.stdout.write(json.dumps({"v": major, **message}) + "\n")
    sys.stdout.flush()


def hello(major: int = 1, **fields) -> None:
    send({"type": "hello", "role": "backend", "protocol": [major, 0], "version": "hostile", "device": "cpu",
          "memory": {"free": 1, "total": 2}, "models": {}, **fields}, major)


def next_job() -> dict:
    for line in sys.stdin:
        message = json.loads(line) if line.strip() else {}
        if message.get("type") in ("generate", "detect"):
            return message
    sys.exit(0)


def hello_and_first_progress(total: int, message: str) -> None:
    """Hello, then one progress event for the first job that comes (the modes that misbehave mid-job)."""
    hello()
    job = next_job()
    send({"type": "progress", "job": job["id"], "stage": "shape", "step": 1, "total": total, "message": message})


def main() -> int:
    mode, argv = sys.argv[1], sys.argv[2:]
    if mode == "long_line":
        block = b"x" * (1 << 20)
        for _ in range(int(argv[0])):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.write(b"\n")
        hello()
        sys.stdin.read()
        return 0
    if mode == "endless_line":
        hello_and_first_progress(9, "working")
        block = b"x" * (1 << 20)
        try:
            while True:
                sys.stdout.buffer.write(block)
        except (BrokenPipeError, OSError):
            return 0
    if mode in ("flood", "deaf_flood"):
        hello()
        line = json.dumps({"v": 1, "type": "progress", "job": "nobody's", "stage": "shape", "step": 1,
                           "total": 2, "message": "x" * 200}) + "\n"
        try:
            while True:
                sys.stdout.write(line * 100)
        except (BrokenPipeError, OSError):
            return 0
    if mode == "stderr":
        hello()
        block = b"e" * (1 << 20)
        for _ in range(int(argv[0])):
            sys.stderr.buffer.write(block)
        sys.stderr.buffer.flush()
        sys.stdin.read()
        return 0
    if mode == "version":
        hello(major=2)
        sys.stdin.read()
        return 0
    if mode == "hello_again":
        hello_and_first_progress(2, "ok")
        hello()
        sys.stdin.read()
        return 0
    if mode == "hang":
        hello_and_first_progress(9, "working")
        sys.stdin.read()
        return 0
    if mode == "bad_field":
        hello()
        job = next_job()
        send({"type": "progress", "job": job["id"], "stage": "shape", "step": "1", "total": 9, "message": ""})
        send({"type": "error", "id": job["id"], "code": "shape_failed", "message": "m", "target": 5})
        sys.stdin.read()
        return 0
    if mode == "newer_event":
        hello()
        job = next_job()
        send({"type": "notice", "job": job["id"], "text": "a newer backend's event"})
        send({"type": "error", "id": job["id"], "code": "shape_failed", "message": "made nothing"})
        sys.stdin.read()
        return 0
    if mode == "bad_hello":
        hello(memory="lots", limits=[1, 2])
        sys.stdin.read()
        return 0
    if mode == "chatter":
        hello()
        next_job()
        while True:
            sys.stdout.write("not a message\n")
            send({"type": "progress", "job": "another", "stage": "shape", "step": 1, "total": 2, "message": ""})
            time.sleep(0.05)
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main())
