"""The mutation gate's order: the checks that killed earlier wrong versions run first."""

from workbook import grading
from workbook.verify import KillOrder


def result(status: str, tests: list[tuple[str, str, float]]) -> grading.CheckResult:
    return grading.CheckResult(
        exercise="01_basics/02_square",
        title="Square",
        target="solutions",
        status=status,
        score=0.0,
        max_score=1,
        duration_s=0.0,
        tests=[{"name": n, "status": s, "duration_s": d} for n, s, d in tests],
    )


def names(arguments: tuple[str, ...]) -> list[str]:
    assert arguments[::2] == ("--run-first",) * (len(arguments) // 2)
    return list(arguments[1::2])


def test_nothing_is_moved_before_a_wrong_version_has_failed():
    order = KillOrder()
    assert order.arguments() == ()
    order.learn(result("passed", [("test_a", "passed", 0.5), ("test_b", "passed", 0.1)]))
    assert order.arguments() == ()


def test_the_last_killer_runs_first_then_the_others_quickest_first():
    order = KillOrder()
    timings = [("test_slow", "passed", 3.0), ("test_mid", "passed", 1.0)]
    order.learn(result("passed", [*timings, ("test_quick", "passed", 0.2)]))
    order.learn(result("failed", [("test_slow", "failed", 3.0)]))
    order.learn(result("failed", [("test_quick", "failed", 0.2)]))
    order.learn(result("failed", [("test_quick", "passed", 0.2), ("test_mid", "error", 1.0)]))
    assert names(order.arguments()) == ["test_mid", "test_quick", "test_slow"]
    order.learn(result("failed", [("test_mid", "passed", 1.0), ("test_slow", "failed", 3.0)]))
    assert names(order.arguments()) == ["test_slow", "test_quick", "test_mid"]


def test_a_run_that_hangs_or_crashes_before_a_failure_teaches_nothing():
    order = KillOrder()
    order.learn(result("timeout", [("test_a", "passed", 0.1), ("test_b", "timeout", 30.0)]))
    order.learn(result("crashed", []))
    assert order.arguments() == ()
