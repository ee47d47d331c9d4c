"""Every way a learner's file can misbehave gets its own clear status, in bounded time.

Each case writes a hostile learner file into a fresh copy of the sample workbook and
grades it through the real runner, once in a fresh interpreter and once forked by the
warm zygote: both must give the same verdict.  Bounds are generous for a slow machine;
they only prove that the grader returns instead of hanging.
"""

import os
import signal
import time
from pathlib import Path

import pytest

from workbook import catalog, grading, runner
from workbook.launch import Launcher

# a hang is cut after 3 s; every other case gets limits no busy machine can reach, so
# that its verdict comes from what the file did, never from how slowly it ran
HANG_LIMITS = runner.Limits(test_timeout=3, run_timeout=20, memory_mb=768)
LIMITS = runner.Limits(test_timeout=60, run_timeout=120, memory_mb=768)
BOUND_S = 90

APP = "from fastapi import FastAPI\n\napp = FastAPI()\n"
HOSTILE = {
    "hangs_at_import": ("while True:\n    pass\n", "timeout", "did not finish within 3 s"),
    "hangs_in_a_request": (
        APP + "import asyncio\n\n@app.get('/')\nasync def greet():\n"
        "    await asyncio.Event().wait()\n",
        "timeout",
        "did not finish within 3 s",
    ),
    "blocks_a_worker_thread": (
        APP + "import time\n\n@app.get('/')\ndef greet():\n    time.sleep(600)\n",
        "timeout",
        "did not finish within 3 s",
    ),
    "exits_with_code_0": ("import os\n\nos._exit(0)\n", "crashed", "exit code 0"),
    "raises_system_exit": ("import sys\n\nsys.exit(0)\n", "error", "calls exit()"),
    "segfaults": ("import ctypes\n\nctypes.string_at(0)\n", "crashed", "segmentation fault"),
    "hogs_memory": (
        "hog = []\nwhile True:\n    hog.append(bytearray(10**8))\n",
        "crashed",
        "ran out of memory",
    ),
    "hogs_memory_in_a_request": (
        APP + "@app.get('/')\nasync def greet():\n    hog = []\n    while True:\n"
        "        hog.append(bytearray(10**8))\n",
        "crashed",
        "ran out of memory",
    ),
    "floods_stdout": ("while True:\n    print('x' * 10000)\n", "crashed", "too much output"),
    "floods_the_raw_fd": (
        "import os\n\nwhile True:\n    os.write(1, b'x' * 100000)\n",
        "crashed",
        "too much output",
    ),
    "has_a_syntax_error": ("def greet(:\n    pass\n", "error", "cannot read this file"),
    "misses_an_import": (APP + "dep = Depends\n", "error", "NameError: name 'Depends'"),
    "misses_the_app": (
        "from fastapi import FastAPI\n\napplication = FastAPI()\n",
        "error",
        "defines no `app`",
    ),
}


def grade(
    root: Path,
    launcher: Launcher,
    exercise_id: str = "01_basics/01_greeting",
    limits: runner.Limits = LIMITS,
) -> grading.CheckResult:
    loaded = catalog.load(root)
    (exercise,) = loaded.find(exercise_id)
    return grading.check(loaded, exercise, limits=limits, launcher=launcher)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_gets_a_clear_status_in_bounded_time(sample, launcher, case):
    source, status, message = HOSTILE[case]
    (sample / "exercises/01_basics/01_greeting.py").write_text(source)
    started = time.monotonic()
    result = grade(sample, launcher, limits=HANG_LIMITS if status == "timeout" else LIMITS)
    assert time.monotonic() - started < BOUND_S
    assert result.status == status, result.to_json()
    first = result.tests[0]
    assert message in first["message"] or message in result.message, result.to_json()
    assert first["status"] != "passed", "never a pass it did not see"


def test_syntax_error_names_the_line(sample, launcher):
    (sample / "exercises/01_basics/01_greeting.py").write_text("x = 1\ndef greet(:\n")
    result = grade(sample, launcher)
    assert result.tests[0]["details"]["line"] == 2
    assert result.tests[1]["status"] == "skipped"
    assert "failed first" in result.tests[1]["message"]


def test_hang_names_the_hung_requirement_when_the_signal_cannot_stop_it(sample, launcher):
    # SIGALRM is ignored, so pytest-timeout cannot interrupt: the parent's watchdog must.
    source = (
        "import signal\n\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n"
    )
    (sample / "exercises/01_basics/01_greeting.py").write_text(source)
    started = time.monotonic()
    result = grade(sample, launcher, limits=HANG_LIMITS)
    assert time.monotonic() - started < BOUND_S
    assert result.status == "timeout"
    assert "GET / answers 200 with the greeting" in result.tests[0]["message"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds escaped processes through /proc")
def test_no_process_outlives_the_run(sample, launcher, tmp_path):
    pids = tmp_path / "pids"
    source = (
        "import subprocess, sys\n"
        f"pids = open({str(pids)!r}, 'w')\n"
        "for argv in (['sleep', '300'], ['setsid', 'sleep', '300']):\n"
        "    pids.write(f'{subprocess.Popen(argv).pid}\\n')\n"
        "pids.close()\n" + APP
    )
    (sample / "exercises/01_basics/01_greeting.py").write_text(source)
    grade(sample, launcher)
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2
    deadline = time.monotonic() + 30  # a bound for a busy machine; it ends at once
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in started if alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors


def test_solution_passes_and_stub_fails_with_a_diff(sample, launcher):
    loaded = catalog.load(sample)
    (exercise,) = loaded.find("01_greeting")
    assert grading.check(
        loaded, exercise, target="solutions", limits=LIMITS, launcher=launcher
    ).passed
    result = grading.check(loaded, exercise, limits=LIMITS, launcher=launcher)
    assert result.status == "failed"
    greets = result.tests[0]
    assert greets["message"] == 'expected body {"hello": "world"}, not {"hello": "nobody"}'
    assert greets["details"]["request"] == "GET /"
    assert result.score == 5.0
    assert result.max_score == 10


def test_learner_conftest_and_pytest_config_never_apply(sample, launcher):
    # a conftest that would pass every test, and config that would skip them all
    (sample / "tests/conftest.py").write_text(
        "import pytest\n\n@pytest.hookimpl(wrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    report = yield\n    report.outcome = 'passed'\n    return report\n"
    )
    (sample / "pytest.ini").write_text("[pytest]\naddopts = -k nothing_matches\n")
    result = grade(sample, launcher)
    assert result.status == "failed"
    assert [t["status"] for t in result.tests] == ["failed", "passed"]


def test_a_suite_that_cannot_be_collected_is_the_graders_failure(sample, launcher):
    (sample / "tests/01_basics/test_01_greeting.py").write_text("import nowhere_to_be_found\n")
    with pytest.raises(grading.GraderError):
        grade(sample, launcher)
