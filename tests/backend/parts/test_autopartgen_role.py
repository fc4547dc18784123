"""AutoPartGen as a role of the catalog (issue 64 items 1, 2, 7): its spec and licence, its tiny replica
loaded by the model manager as three parts through the production loader, the refusals a user meets
(a licence not accepted, a gated repository, a run too long or too big), each in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.catalog import PARTS, model_set, tiny_model_set
from img23d_backend.models import download, hub
from img23d_backend.models.manager import ModelManager, Tier
from img23d_backend.models.preflight import GB, Room
from img23d_backend.parts import costs, memory
from img23d_backend.parts.autopartgen import model as row_module, replica
from img23d_backend.parts.part import PartsRequest
from img23d_backend.parts.table import DEFAULT_PARTS, PARTS_CODE, PARTS_ROWS, parts_loader
from img23d_protocol import ErrorCode, ProtocolError

ROW = PARTS_ROWS[DEFAULT_PARTS]


@pytest.fixture(scope="module")
def tiny_spec(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tiny-parts")
    spec = ROW.tiny_spec(root)
    PARTS_CODE[DEFAULT_PARTS].replica.build(Path(spec.local_path), "tiny")
    return spec


def test_the_spec_names_its_files_its_conditioner_and_no_invented_revision() -> None:
    spec = PARTS["autopartgen"]
    # A Generate's set has none; a parts job names it.
    assert model_set("default").parts is None and model_set("default", parts="autopartgen").parts is spec
    assert spec.role == "parts"
    assert spec.repo_id == "facebook/autopartgen" and spec.revision is None  # unverified: none pinned
    assert spec.allow_patterns == ("autopartgen_dit.pth", "autopartgen_vae.pth") and spec.exact_files
    [dino] = spec.sources
    assert dino.repo_id == "facebook/dinov2-with-registers-large" and dino.allow_patterns == ("config.json",
                                                                                              "model.safetensors")
    assert spec.size_bytes == 4 * (1_580_809_408 + 242_662_017 + 304_372_736)  # float32, as it runs


def test_the_parts_model_and_its_conditioner_are_the_only_unpinned_models() -> None:
    # Every model a Generate downloads is pinned (tests/backend/models/test_pins.py); these two are not, said in
    # parts/autopartgen/model.py: no commit of the gated repository could be verified, and none is invented.
    from img23d_backend.catalog import EDITORS, FAMILY_ROWS, GROUNDING, MATERIALS, MATTING, DEPTH

    tables = [GROUNDING, MATTING, DEPTH, MATERIALS, EDITORS, PARTS, *FAMILY_ROWS.values()]
    unpinned = {part.repo_id for table in tables for spec in table.values() for part in spec.parts
                if part.revision is None}
    assert unpinned == {"facebook/autopartgen", "facebook/dinov2-with-registers-large"}


def test_its_licence_is_non_commercial_research_outputs_included() -> None:
    licence = PARTS["autopartgen"].licence.licence
    assert licence.restricted and licence.non_commercial
    assert licence.summary() == ("FAIR Noncommercial Research License v1: non-commercial research use only, "
                                 "the parts it makes included")
    assert PARTS["autopartgen"].sources[0].licence.licence.key == "apache-2.0"


def test_the_download_is_refused_without_acceptance_and_goes_on_with_it(monkeypatch: pytest.MonkeyPatch,
                                                                         hub_cache: Path) -> None:
    spec, fetched = PARTS["autopartgen"], []
    monkeypatch.setattr(download, "_download_part", lambda part, *_: fetched.append(part.repo_id))
    monkeypatch.setattr(hub, "resolve_model_dir", lambda *a, offline=None, **k: (_ for _ in ()).throw(
        ProtocolError(ErrorCode.MODEL_MISSING, "not here")) if offline and not fetched else hub_cache)
    with pytest.raises(ProtocolError) as refused:
        download.download(spec, offline=False, progress=lambda *_: None, cancelled=lambda: False)
    assert refused.value.code is ErrorCode.LICENCE_NOT_ACCEPTED and fetched == []
    assert "non-commercial research use only, the parts it makes included" in refused.value.message
    assert "--accept-licence" in refused.value.message
    download.download(spec, offline=False, progress=lambda *_: None, cancelled=lambda: False,
                      accepted_licences={"fair-noncommercial-research-v1"})
    assert fetched == ["facebook/dinov2-with-registers-large", "facebook/autopartgen"]


def _gated() -> Exception:
    import requests
    from huggingface_hub.errors import GatedRepoError

    response = requests.Response()
    response.status_code = 403
    return GatedRepoError("403 Client Error. Cannot access gated repo", response=response)


def test_a_gated_refusal_says_how_to_request_access(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = PARTS["autopartgen"]
    with pytest.raises(ProtocolError) as caught, download._hub_errors(spec):
        raise _gated()
    message = caught.value.message
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED and message.count(". ") == 0
    assert "request access on its page (https://huggingface.co/facebook/autopartgen" in message
    import huggingface_hub

    def refuse(**_: object) -> str:
        raise _gated()
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    with pytest.raises(ProtocolError) as implicit:
        hub._snapshot(spec, offline=False, progress=None, token=None)
    assert implicit.value.message == message


def test_the_manager_loads_the_tiny_replica_as_three_parts(tiny_spec) -> None:
    assert tiny_spec.repo_id == "tiny/autopartgen" and tiny_spec.licence.replicates == "facebook/autopartgen"
    assert tiny_model_set(Path(tiny_spec.local_path).parent).parts is None  # a Generate's tiny set has none
    assert tiny_model_set(Path(tiny_spec.local_path).parent, parts=DEFAULT_PARTS).parts == tiny_spec
    manager = ModelManager("cpu", budget_bytes=1 << 40)
    manager.register(tiny_spec, parts_loader(tiny_spec))
    assert manager.parts("parts") == ("conditioner", "dit", "vae")
    with manager.use("parts", ("dit",)) as held:
        assert held["dit"].config.layers == 5  # the tiny sizes, from the spec's options
    counters = manager.part_counters("parts")
    assert counters["dit"].loads_from_disk == 1 and counters["vae"].loads_from_disk == 0
    # A budget that holds one network at a time: the next part's use evicts the last one's.
    small = ModelManager("cpu", budget_bytes=manager.part_sizes("parts")["dit"] + 1)
    small.register(tiny_spec, parts_loader(tiny_spec))
    with small.use("parts", ("dit",)):
        pass
    with small.use("parts", ("vae",)):
        pass
    tiers = {name: record["tier"] for name, record in small.snapshot()["models"]["parts"]["parts"].items()}
    assert tiers == {"conditioner": Tier.DROPPED.value, "dit": Tier.DROPPED.value, "vae": Tier.DEVICE.value}


def test_generate_runs_the_part_loop_on_the_managers_parts(tiny_spec) -> None:
    from test_autopartgen_part_loop import CUBE_F, CUBE_V

    from img23d_backend.env.job_control import CancelToken

    manager = ModelManager("cpu", budget_bytes=1 << 40)
    manager.register(tiny_spec, parts_loader(tiny_spec))
    request = PartsRequest(vertices=CUBE_V, faces=CUBE_F, max_parts=1, seed=1, grid=8, steps=1)
    parts = PARTS_CODE[DEFAULT_PARTS].generate(manager, request, lambda report: None, CancelToken())
    assert len(parts) <= 1 and all(part.faces.ndim == 2 for part in parts)
    # Every network was read once, through the manager.
    assert {name: c.loads_from_disk for name, c in manager.part_counters("parts").items()} == {
        "conditioner": 1, "dit": 1, "vae": 1}
    # In the phases the preflight counts: a budget that holds the DiT and the VAE but not the conditioner
    # beside them still runs, the conditioner leaving the device once it has read the pictures.
    sizes = manager.part_sizes("parts")
    small = ModelManager("cpu", budget_bytes=max(sizes["dit"] + sizes["vae"], sizes["conditioner"]) + 1)
    small.register(tiny_spec, parts_loader(tiny_spec))
    again = PARTS_CODE[DEFAULT_PARTS].generate(small, request, lambda report: None, CancelToken())
    assert [p.vertices.tolist() for p in again] == [p.vertices.tolist() for p in parts]
    tiers = {name: record["tier"] for name, record in small.snapshot()["models"]["parts"]["parts"].items()}
    assert tiers["dit"] == tiers["vae"] == Tier.DEVICE.value and tiers["conditioner"] != Tier.DEVICE.value


def test_the_replica_is_complete_as_the_hub_layout(tiny_spec) -> None:
    assert hub.resolve_model_dir(tiny_spec) == Path(tiny_spec.local_path)
    assert (Path(tiny_spec.local_path) / replica.DINO_FOLDER / "config.json").is_file()


def test_a_dit_forward_counts_as_its_architecture() -> None:
    work = ROW.work
    tokens = work.latents + 1
    # Every DiT weight applied to every latent token, less the key/value projections (applied to the image's
    # and the history's tokens), plus attention: within a factor near one of 2 x parameters x tokens.
    linear = 2 * row_module.PARAMETERS["dit"] * tokens
    assert 0.9 < work.forward_flops() / linear < 1.4
    # By hand: 21 blocks x 3.01e11 (self-attention, image cross-attention, feed-forward), 10 x 1.05e11 (the
    # history's cross-attention over 4,096 tokens), 10 x 3.44e10 (the skips' linears).
    assert work.forward_flops() == pytest.approx(21 * 3.01e11 + 10 * 1.05e11 + 10 * 3.44e10, rel=0.01)


def test_a_run_of_hours_is_refused_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from img23d_backend.models import throughput

    monkeypatch.setattr(costs, "probe", lambda device, dtype: throughput.Throughput("cpu", "float32",
                                                                                   ROW.benchmark.gflops))
    spec, request = PARTS["autopartgen"], PartsRequest(image=object(), max_parts=40)
    estimate = costs.request_estimate(spec, "cpu", request)
    # The benchmark's own CPU: one part is 3 x 50 of its measured forwards and its decode scaled to the grid, then
    # its clean-up and overlap check (no mask) for a trained part's triangles; the history between parts is its
    # samples and 34,816 farthest-point steps over the pool of 65,536 the host benchmark timed.
    bench, host = ROW.benchmark, ROW.host
    tidy = (host.clean_s + host.overlap_s) * ROW.part_faces / host.faces
    assert estimate.part_s == pytest.approx(150 * bench.forward_s + bench.decode_s * (256 / bench.decode_grid) ** 2
                                            + tidy)
    assert estimate.whole_s == pytest.approx(100 * bench.forward_s + bench.condition_s)
    assert estimate.history_s == pytest.approx(host.sample_s + (32_768 + 2_048) * host.fps_step_s)
    assert estimate.total_s == pytest.approx(estimate.whole_s + 40 * estimate.part_s + 39 * estimate.history_s)
    with pytest.raises(ProtocolError) as caught:
        costs.refuse_long_parts(spec, "cpu", request, accept_long=False)
    assert caught.value.code is ErrorCode.LONG_JOB_NOT_ACCEPTED
    assert "making up to 40 parts" in caught.value.message and "--accept-long" in caught.value.message
    assert costs.refuse_long_parts(spec, "cpu", request, accept_long=True).parts == 40


def test_the_peak_phase_must_fit_or_is_refused_in_one_sentence() -> None:
    import torch

    big = Room(host=64 * 10**9, device=80 * 10**9, shared=False)
    assert memory.check_parts(ROW, 256, torch.device("cuda"), big).name == "drawing a part"
    # A 6 GB card: the DiT alone (6.3 GB in float32) cannot be held.
    with pytest.raises(ProtocolError) as caught:
        memory.check_parts(ROW, 256, torch.device("cuda"), Room(host=64 * 10**9, device=6 * 10**9, shared=False))
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    assert "GB of GPU memory drawing a part" in caught.value.message
    # On a CPU every network waits in the one memory: 8 GB is short.
    with pytest.raises(ProtocolError):
        memory.check_parts(ROW, 256, "cpu", Room(host=int(8 * GB)))
