"""The CPU-side parts of reference/gpu_check.py (argument handling, finding the @gpu tests, gpu.json);
the GPU run itself needs CUDA and is recorded in reference/<id>/gpu.json when a GPU is lent."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "reference" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def test_arguments_default_to_the_three_gpu_milestones_and_refuse_unknown_ones(capsys):
    args = gpu_check.parse_args([])
    assert args.milestones == list(gpu_check.MILESTONES) and not args.sequential
    assert gpu_check.parse_args(["--milestones", " m14-small-lm,m08-pytorch-mnist ", "--sequential"]).milestones == [
        "m14-small-lm", "m08-pytorch-mnist"]
    with pytest.raises(SystemExit) as exit_info:
        gpu_check.parse_args(["--milestones", "m08-pytorch-mnist,m99-nope"])
    assert exit_info.value.code == 2
    assert "unknown milestone(s) m99-nope" in capsys.readouterr().err


def test_without_cuda_it_stops_with_status_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "cuda_device_name", lambda: None)
    assert gpu_check.main(["--out-root", str(tmp_path)]) == gpu_check.NO_GPU_EXIT
    assert "no CUDA device" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a CUDA machine the script would really run")
def test_the_shell_script_says_why_without_a_gpu(tmp_path):
    done = subprocess.run(["bash", str(ROOT / "reference" / "gpu_check.sh"), "--out-root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no CUDA device" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_every_gpu_milestone_has_its_gpu_tests_found_with_their_part():
    found = {m: gpu_check.gpu_tests(ROOT / "autograder" / "suites" / m) for m in gpu_check.MILESTONES}
    assert found["m08-pytorch-mnist"] == {"test_mnist_accuracy_gpu": "test_hidden"}
    assert found["m13-transformer"] == {"test_training_reverses_strings_gpu": "test_seq2seq"}
    assert found["m14-small-lm"] == {"test_shakespeare_threshold_gpu": "test_training"}
    suite = ROOT / "autograder" / "suites" / "m14-small-lm"
    assert gpu_check.part_of(suite / "test_training.py", "test_shakespeare_threshold_gpu") == "training"


def test_gpu_json_records_device_seconds_metric_and_seed(tmp_path):
    results = {
        "tests": [
            {"name": "[training] test_mnist_accuracy_gpu", "score": 20.0, "max_score": 20.0,
             "extra_data": {"part": "training", "outcome": "passed", "duration": 12.345}},
            {"name": "[training] test_mnist_accuracy_cpu", "score": 0.0, "max_score": 20.0,
             "extra_data": {"part": "training", "outcome": "skipped", "duration": 0.0}},
        ],
        "extra_data": {"metrics": {"mnist_test_accuracy": {"value": 0.991, "threshold": 0.98, "higher_is_better": True,
                                                           "test": "test_mnist_accuracy_gpu"}}},
    }
    checks = gpu_check.checks_from_results(results, {"test_mnist_accuracy_gpu": "test_hidden"},
                                           lambda key: len(key))
    path = gpu_check.write_gpu_json(tmp_path, "m08-pytorch-mnist", "NVIDIA H200", 40.04, checks, {"concurrent": True})
    written = json.loads(path.read_text())
    assert path == tmp_path / "m08-pytorch-mnist" / "gpu.json"
    assert written["device"] == "NVIDIA H200" and written["wall_seconds"] == 40.0 and written["all_passed"]
    assert written["concurrent"] is True
    (check,) = written["checks"]
    assert check["test"] == "test_mnist_accuracy_gpu" and check["seconds"] == 12.35 and check["outcome"] == "passed"
    assert check["metrics"] == [{"name": "mnist_test_accuracy", "value": 0.991, "threshold": 0.98,
                                 "higher_is_better": True, "test": "test_mnist_accuracy_gpu"}]
    assert check["rng_seed"] == len("hidden::test_hidden::test_mnist_accuracy_gpu")


def test_a_failed_gpu_check_is_not_all_passed(tmp_path):
    path = gpu_check.write_gpu_json(tmp_path, "m13-transformer", "NVIDIA H100", 1.0,
                                    [{"test": "t", "outcome": "failed"}])
    assert json.loads(path.read_text())["all_passed"] is False
    assert json.loads(gpu_check.write_gpu_json(tmp_path, "m13-transformer", "x", 1.0, []).read_text())[
        "all_passed"] is False
