"""The add-on starts the backend with the paint model its preferences chose (turbo by default)."""

from __future__ import annotations

from pathlib import Path


from img23d_client import process as process_mod


def _paint_flag(settings) -> str:  # type: ignore[no-untyped-def]
    args = settings.command()
    return args[args.index("--paint") + 1]


def test_the_backend_paints_with_the_chosen_model(tmp_path: Path) -> None:
    assert _paint_flag(process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path)) == "2.0-turbo"
    assert _paint_flag(process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path, paint="2.0")) == "2.0"


def _flag(settings, name: str) -> str:  # type: ignore[no-untyped-def]
    args = settings.command()
    return args[args.index(name) + 1]


def test_the_backend_runs_the_chosen_family(tmp_path: Path) -> None:
    default = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path)
    assert _flag(default, "--family") == "hunyuan3d"
    clean = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path, family="clean", shape="step1x")
    assert (_flag(clean, "--family"), _flag(clean, "--shape")) == ("clean", "step1x")


def test_the_backend_runs_the_chosen_editor(tmp_path: Path) -> None:
    default = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path)
    assert "--editor" not in default.command()  # the backend's default: a backend older than the choice starts
    large = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path, editor="qwen-image-edit-2511")
    assert _flag(large, "--editor") == "qwen-image-edit-2511"


def test_the_backend_gets_the_hr_matting_a_device_per_role_and_the_warm_up_only_when_chosen(tmp_path: Path) -> None:
    default = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path)
    command = default.command()
    assert _flag(default, "--matting") == "birefnet" and "--device-for" not in command and "--warm-up" not in command
    chosen = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path, matting="birefnet-hr",
                                        device_for={"grounding": "cpu"}, warm_up=True)
    assert (_flag(chosen, "--matting"), _flag(chosen, "--device-for")) == ("birefnet-hr", "grounding=cpu")
    assert "--warm-up" in chosen.command()


def test_the_warm_ups_last_event_is_shown_as_a_note(tmp_path: Path) -> None:
    from img23d_client import session as session_mod

    settings = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path, warm_up=True)
    session = session_mod.BackendSession(lambda: settings)
    protocol = session_mod.protocol
    session._handle(protocol.Progress(job="warm-up", stage="warm-up", step=1, total=1,
                                      message="warm-up done in 3.2 s (a small job on a made-up picture)"))
    assert session.messages[-1] == "warm-up done in 3.2 s (a small job on a made-up picture)"
    session._handle(protocol.Progress(job="someone-else", stage="shape", step=1, total=1, message="not ours"))
    assert "not ours" not in session.messages


def test_the_backend_gets_a_depth_model_only_when_it_is_not_the_default(tmp_path: Path) -> None:
    default = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path)
    assert default.depth == "moge2-vits-normal"   # the metric model, the default since issue 98
    assert "--depth" not in default.command()     # as --editor: a backend older than the choice starts
    relative = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path, depth="da2-small")
    assert _flag(relative, "--depth") == "da2-small"


def test_the_memory_cap_reaches_the_backend_only_when_set(tmp_path: Path) -> None:
    """Issue 99: ``--memory-cap-gb`` had no setting in the add-on (its backend started with ``--budget-gb`` alone)."""
    default = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path)
    assert "--memory-cap-gb" not in default.command()  # no cap: a backend older than the option starts
    capped = process_mod.LaunchSettings(python=tmp_path / "python", runs_dir=tmp_path, memory_cap_gb=8.0, budget_gb=6)
    assert (_flag(capped, "--memory-cap-gb"), _flag(capped, "--budget-gb")) == ("8", "6")
    assert capped != default  # a session started without it is restarted for it (``BackendSession``)
