"""RunDir: the one place a run directory's file names are written, and the one reader of its records."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cganzoo.errors import OutputError, RunDirectoryError
from cganzoo.runs.layout import RunDir

OLD_RUN = Path(__file__).parent.parent / "data" / "checkpoint-v1"


def test_every_name_of_a_run_directory(tmp_path):
    run = RunDir(tmp_path)
    assert run == RunDir(str(tmp_path)) and os.fspath(run) == str(tmp_path) and str(run) == str(tmp_path)
    assert run.config_file == tmp_path / "config.json"
    assert run.metrics_file == tmp_path / "metrics.jsonl"
    assert run.sample_grid(400) == tmp_path / "samples" / "step_400.png"
    assert run.checkpoint_dir(937) == tmp_path / "checkpoints" / "step_000000937"
    assert run.latest_pointer == tmp_path / "checkpoints" / "latest"
    assert [p.name for p in run.entries] == ["config.json", "metrics.jsonl", "samples", "checkpoints", "tensorboard"]


@pytest.mark.parametrize("name, step", [("step_000000937", 937), ("step_0001000", 1000), ("step_", None),
                                        ("step_12x", None), ("step_\u00b2", None), (".step_000000001.tmp", None),
                                        ("latest", None)])
def test_checkpoint_names_and_steps(name, step):
    assert RunDir.checkpoint_step(name) == step
    if step is not None:
        assert RunDir.checkpoint_step(RunDir.checkpoint_name(step)) == step


def test_a_version_1_run_reads_back():
    run = RunDir(OLD_RUN)
    assert run.read_record()["config"]["model"]
    assert run.checkpoint_names() == ["step_000000002"]
    assert run.latest_pointer.read_text().strip() == "step_000000002"
    assert all(isinstance(r["step"], int) for r in run.read_metrics())


def test_grids_are_listed_by_step_not_by_name(tmp_path):
    run = RunDir(tmp_path)
    assert run.sample_grids() == []
    run.samples_dir.mkdir()
    for name in ("step_1000.png", "step_200.png", "step_x.png", "other.png"):
        (run.samples_dir / name).write_bytes(b"")
    assert [step for step, _ in run.sample_grids()] == [200, 1000]


@pytest.mark.parametrize("content, reason", [(None, "no config"), ("not json", "bad config"), ("[1, 2]", "bad config"),
                                             ('{"config": 3}', "bad config"), (b"\xff\xfe", "bad config")])
def test_one_reader_of_config_json_says_what_is_wrong(tmp_path, content, reason):
    run = RunDir(tmp_path)
    if isinstance(content, bytes):
        run.config_file.write_bytes(content)
    elif content is not None:
        run.config_file.write_text(content)
    with pytest.raises(RunDirectoryError) as info:
        run.read_record()
    assert info.value.reason == reason and len(str(info.value).splitlines()) == 1
    with pytest.raises(RunDirectoryError, match="does not exist") as info:
        RunDir(tmp_path / "missing").read_record()
    assert info.value.reason == "no directory"


def test_metrics_skip_lines_cut_short_and_a_resume_drops_later_records(tmp_path):
    run = RunDir(tmp_path)
    assert run.read_metrics() == [] and run.truncate_metrics(5) == 0
    for step in (2, 4, 6):
        run.append_metric({"step": step, "d_loss": float("nan")})
    with open(run.metrics_file, "a") as f:
        f.write('{"step": 8, "d_lo')  # a crash in the middle of a line
    assert [r["step"] for r in run.read_metrics()] == [2, 4, 6]
    assert json.loads(run.metrics_file.read_text().splitlines()[0]) == {"step": 2, "d_loss": None}  # strict JSON
    assert run.truncate_metrics(4) == 2
    assert [r["step"] for r in run.read_metrics()] == [2, 4]
    assert run.truncate_metrics(4) == 0


def test_config_json_is_written_whole(tmp_path):
    run = RunDir(tmp_path)
    run.write_record({"config": {"model": "m"}})
    assert run.read_record() == {"config": {"model": "m"}}
    with pytest.raises(OutputError, match="could not write"):
        RunDir(tmp_path / "missing").write_record({"config": {}})
