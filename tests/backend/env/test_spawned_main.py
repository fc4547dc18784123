"""A script that calls the API at its top level, re-imported by a spawned worker, is refused in one sentence
(env/spawned_main.py): it ran its whole job again in every worker (a batch came back cancelled, a session's
jobs ran three times)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from img23d_protocol import ErrorCode, ProtocolError

SCRIPT = """
from img23d_backend import api
api.{call}
"""


@pytest.mark.parametrize("call", ["Session(out={out!r})", "batch([], out={out!r})"])
def test_the_api_at_the_top_of_a_script_a_worker_imports_is_refused(tmp_path: Path, call: str) -> None:
    code = compile(SCRIPT.format(call=call.format(out=str(tmp_path / "runs"))), "script.py", "exec")
    with pytest.raises(ProtocolError, match="top level of a script that img23d's worker processes import again") \
            as caught:
        exec(code, {"__name__": "__mp_main__"})  # as spawn imports the parent's script in a worker
    assert caught.value.code is ErrorCode.BAD_REQUEST and not (tmp_path / "runs").exists()


def test_a_script_run_as_main_or_a_function_in_a_worker_is_not_refused(tmp_path: Path, backend_env: dict) -> None:
    """The guarded script, and a pool worker calling the API from a function, run as before."""
    script = tmp_path / "guarded.py"
    script.write_text("from img23d_backend import api\n"
                      "def job(out):\n    return api.Session(out=out).out.name\n"
                      "if __name__ == '__main__':\n"
                      "    import multiprocessing\n"
                      "    with multiprocessing.get_context('spawn').Pool(1) as pool:\n"
                      f"        print(pool.apply(job, ({str(tmp_path / 'runs')!r},)))\n")
    done = subprocess.run([sys.executable, str(script)], env=backend_env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "runs", done.stderr[-2000:]
