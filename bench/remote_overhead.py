"""What the SSH backend costs a generate job, against the same job with the backend on this computer.

    sudo .venv/bin/python bench/remote_overhead.py [--repeat 3] [--json out.json]

Both backends run the tiny models on this machine's CPU: the remote one behind OpenSSH's sshd on
127.0.0.1, as another Unix user (tests/ssh_host.py: needs root and openssh-server), driven by the
add-on's own client (``img23d_client.session``) exactly as Blender drives it. Each is started and warmed
up with one job first; then the same job (house scene, two names, untextured) alternates between
them ``--repeat`` times, timed from submit to result, the remote one including the picture's upload
and every file the add-on fetches back. The transfer's own time is measured apart: the finished
run's fetched files brought over again through the same connection (Import Run from the host's
``RunDownload``), scaled to the job's bytes. Goal (issue 24): overhead under 1 s plus that transfer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GOAL_SECONDS = 1.0
JOB_TIMEOUT = 600.0
OPTIONS = {"steps": 3, "octree_resolution": 64, "face_budget": 2000, "texture": False}


def _until(session: Any, done: Any, what: str, timeout: float = JOB_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        session.pump()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish within {timeout:.0f} s")
        time.sleep(0.01)


def _job(session: Any, protocol: Any, picture: Path) -> tuple[float, Any]:
    request = protocol.GenerateRequest(image=str(picture), targets=["house", "chimney"],
                                       options=protocol.JobOptions(**OPTIONS))
    started = time.perf_counter()
    job = session.submit(request)
    session.await_reply(job)
    _until(session, lambda: job in session.replies, "a generate job")
    seconds = time.perf_counter() - started
    reply = session.take_reply(job)
    if not isinstance(reply, protocol.Result):
        raise RuntimeError(f"the job failed: {reply.message}")
    return seconds, reply


def _fetched_bytes(run_dir: Path) -> int:
    return sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT / "backend"), str(ROOT / "protocol"), str(ROOT / "client"), str(ROOT / "tests"),
                    str(ROOT / "tests" / "addon")]
    import ssh_host
    from img23d_backend.replicas.build import ensure_tiny_models

    why = ssh_host.available()
    if why is not None:
        print(f"the loopback SSH host cannot be made here: {why}", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tiny = ensure_tiny_models()
    from img23d_client import process
    from img23d_client import session as session_mod
    from img23d_client import remote as remote_mod
    protocol = session_mod.protocol
    work = Path(tempfile.mkdtemp(prefix="img23d-bench-remote-"))
    host = ssh_host.start(ROOT, tiny)
    sessions = []
    try:
        picture = work / "house scene.png"
        shutil.copy(EXAMPLES / "house_scene.png", picture)
        common = dict(models="tiny", device="cpu", offline=True, watchdog_seconds=0)
        local = process.LaunchSettings(python=Path(sys.executable), runs_dir=work / "local-runs",
                                       log_path=work / "local.log", extra_env={"IMG23D_TINY_MODELS": str(tiny)},
                                       **common)
        remote = process.LaunchSettings(
            python=Path("/unused"), runs_dir=work / "mirror", log_path=work / "remote.log",
            remote=remote_mod.RemoteHost(host=ssh_host.ALIAS, python=str(host.python),
                                         runs_dir=str(host.path_for_host("runs")), config_file=host.config,
                                         env=host.env()), **common)
        timings: dict[str, list[float]] = {"local": [], "ssh": []}
        named = {"local": session_mod.BackendSession(lambda: local), "ssh": session_mod.BackendSession(lambda: remote)}
        sessions = list(named.values())
        last: dict[str, Any] = {}
        for name, session in named.items():
            session.start()
            session.wait_ready(timeout=JOB_TIMEOUT)
            _job(session, protocol, picture)  # warm-up: models loaded, first-call costs paid
        for _ in range(max(1, args.repeat)):
            for name, session in named.items():
                seconds, last[name] = _job(session, protocol, picture)
                timings[name].append(seconds)
        # The transfer alone: the job's run folder fetched again over the same connection.
        mirror_run = Path(last["ssh"].data["run_dir"])
        job_bytes = _fetched_bytes(mirror_run) + picture.stat().st_size
        remote_run = str(host.path_for_host("runs") / mirror_run.name)
        ssh = named["ssh"]
        started = time.perf_counter()
        download = ssh.fetch_run(remote_run)
        _until(ssh, lambda: download.done, "the run's download")
        download_seconds = time.perf_counter() - started
        if download.error:
            raise RuntimeError(download.error)
        run_bytes = _fetched_bytes(download.local_dir)
    finally:
        for session in sessions:
            session.stop()
        host.stop()
        shutil.rmtree(work, ignore_errors=True)
    local_s, ssh_s = statistics.median(timings["local"]), statistics.median(timings["ssh"])
    transfer_s = download_seconds * job_bytes / max(run_bytes, 1)
    overhead = ssh_s - local_s
    result = {
        "benchmark": "remote_overhead", "device": f"this machine's CPU ({os.cpu_count()} cores), loopback sshd",
        "platform": platform.platform(), "python": platform.python_version(), "repeat": args.repeat,
        "job": {"targets": ["house", "chimney"], "options": OPTIONS, "models": "tiny"},
        "local_s": round(local_s, 3), "ssh_s": round(ssh_s, 3),
        "local_runs_s": [round(s, 3) for s in timings["local"]], "ssh_runs_s": [round(s, 3) for s in timings["ssh"]],
        "overhead_s": round(overhead, 3), "job_bytes": job_bytes,
        "transfer": {"run_bytes": run_bytes, "seconds": round(download_seconds, 3),
                     "mb_per_s": round(run_bytes / max(download_seconds, 1e-9) / 1e6, 1)},
        "transfer_s_for_job_bytes": round(transfer_s, 3),
        "overhead_minus_transfer_s": round(overhead - transfer_s, 3),
        "goal": f"overhead < {GOAL_SECONDS} s + transfer", "goal_met": overhead < GOAL_SECONDS + transfer_s,
    }
    print(f"generate job (tiny, 2 names): local {local_s:.2f} s, over SSH {ssh_s:.2f} s, overhead {overhead:.2f} s; "
          f"its {job_bytes / 1e6:.1f} MB take {transfer_s:.2f} s at {result['transfer']['mb_per_s']} MB/s: "
          f"overhead beyond the transfer {overhead - transfer_s:.2f} s (goal < {GOAL_SECONDS} s)")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
