"""The benchmarks' smoke mode: every rung and scenario runs for about a second, end to end.

It renders the PostgreSQL service, measures it against the rungs beneath it and checks the
database's invariants after each run; the numbers themselves are not asserted, only that every
rung served requests and that no run broke an invariant.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.project import missing_tools
from bench.run import RUNGS

from .helpers import REPO_ROOT, REQUIRE_SERVICES


@pytest.mark.slow
def test_smoke_run_measures_every_rung_and_breaks_no_invariant(tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        reason = "the benchmarks need " + "; ".join(missing)
        if REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path / "bench"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((out / "benchmarks.json").read_text())
    assert (out / "benchmarks.png").stat().st_size > 0
    invalid = [entry for entry in summary["results"] if not entry["valid"]]
    assert not invalid, invalid
    served = {rung: 0 for rung in RUNGS}
    for entry in summary["results"]:
        served[entry["rung"]] += entry["ok"]
    assert all(served.values()), served
    measured = {entry["scenario"] for entry in summary["results"]}
    assert measured == {"live", "read", "reserve_spread", "reserve_hot", "transfer", "overload"}
