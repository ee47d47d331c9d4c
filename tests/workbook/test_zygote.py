"""The warm zygote gives the same verdicts as a cold child, on real exercises too."""

import subprocess
import sys
from pathlib import Path

import pytest

from workbook import catalog, grading
from workbook.launch import ColdLauncher, base_env
from workbook.zygote import LATER, Zygote, ZygoteError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = [
    "01_async_foundations/01_unblock_the_loop",  # threads and a blocking wait
    "01_async_foundations/03_fan_out",  # task groups and an httpx mock transport
    "02_pydantic_contracts/01_payments",  # hypothesis against the reference
    "08_openapi_customization/02_operation_ids",  # a LATER import, maybe not loaded yet
]


def verdicts(result: grading.CheckResult) -> list[tuple[str, str]]:
    return [(test["name"], test["status"]) for test in result.tests]


@pytest.mark.parametrize("target", ["solutions", "exercises"])
@pytest.mark.parametrize("exercise_id", SAMPLE)
def test_warm_and_cold_runs_agree_on_real_exercises(zygote, exercise_id, target):
    workbook = catalog.load(ROOT)
    (exercise,) = workbook.find(exercise_id)
    cold = grading.check(workbook, exercise, target=target, launcher=ColdLauncher())
    warm = grading.check(workbook, exercise, target=target, launcher=zygote)
    assert (warm.status, verdicts(warm)) == (cold.status, verdicts(cold))
    assert cold.passed == (target == "solutions")


def test_a_dead_zygote_falls_back_to_a_cold_run(tmp_path):
    dead = Zygote(base_env(tmp_path))
    dead.close()
    workbook = catalog.load(ROOT)
    (exercise,) = workbook.find(SAMPLE[0])
    with pytest.raises(ZygoteError):
        dead.launch([], ROOT, {}, 0, 0)
    assert grading.check(workbook, exercise, target="solutions", launcher=dead).passed


def test_an_eager_zygote_agrees_with_a_cold_run_too(tmp_path):
    workbook = catalog.load(ROOT)
    (exercise,) = workbook.find(SAMPLE[-1])
    eager = Zygote(base_env(tmp_path), eager=True)
    try:
        warm = grading.check(workbook, exercise, target="exercises", launcher=eager)
    finally:
        eager.close()
    cold = grading.check(workbook, exercise, target="exercises", launcher=ColdLauncher())
    assert (warm.status, verdicts(warm)) == (cold.status, verdicts(cold))


def test_the_later_imports_start_no_thread():
    # a zygote imports them while serving: a thread would make every fork after it unsafe
    code = "import importlib, sys, threading\n"
    code += "for name in sys.argv[1:]: importlib.import_module(name)\n"
    code += "sys.exit(threading.active_count())"
    done = subprocess.run([sys.executable, "-c", code, *LATER], check=False)
    assert done.returncode == 1
