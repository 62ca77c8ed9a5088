"""Two `optbot research optimise` processes work one PostgreSQL study: no trial lost or run twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from optbot.research.optimise import storage_url

REPO = Path(__file__).resolve().parents[2]
TRIALS = 10


def _worker(name: str, url: str, out: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "optbot.cli.main",
        "research",
        "optimise",
        "--strategy",
        "adx_trend",
        "--from",
        "2020-11-02",  # three weeks a trial: the second worker joins while the first still works
        "--to",
        "2020-11-20",
        "--trials",
        str(TRIALS),
        "--storage",
        url,
        "--study",
        "shared",
        "--worker",
        name,
        "--pruner",
        "none",
        "--no-tearsheet",
        "--out",
        str(out / name),
    ]
    # the sample day has 15-minute bars: adx_trend enters on them
    env = {
        **os.environ,
        "OPTBOT__PATHS__DATA_ROOT": str(out / "root"),
        "OPTBOT__STRATEGY__ENTRY_TIMEFRAME": "15m",
    }
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_two_workers_share_one_study_without_losing_or_repeating_a_trial(
    postgres_url: str, tmp_path: Path
) -> None:
    first = _worker("w1", postgres_url, tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # let the first worker create the study and start a trial
        try:
            study = optuna.load_study(study_name="shared", storage=storage_url(postgres_url))
            if study.get_trials(deepcopy=False):
                break
        except KeyError:
            pass
        assert first.poll() is None, first.communicate()[0].decode()
        time.sleep(0.2)
    second = _worker("w2", postgres_url, tmp_path)
    outputs = [process.communicate(timeout=600)[0].decode() for process in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    trials = [
        t
        for t in optuna.load_study(study_name="shared", storage=storage_url(postgres_url)).get_trials()
        if not t.user_attrs.get("over_budget")
    ]
    assert sorted(t.number for t in trials) == list(range(TRIALS))
    # every trial finished: run, or pruned because its values broke a settings rule (recorded)
    finished = {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert all(t.state in finished for t in trials), [(t.state, t.params) for t in trials]
    assert all(t.user_attrs.get("violations") for t in trials if t.state is optuna.trial.TrialState.PRUNED)
    workers = [t.user_attrs["worker"] for t in trials]
    assert set(workers) == {"w1", "w2"}, workers
    assert all("completed trial(s)" in output for output in outputs)
