"""The EMR build packs a relocatable venv; submit --target local builds the spark-submit line."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from idgraph.build_emr import pack_venv
from idgraph.core.settings import SparkSettings, load_settings
from idgraph.core.settings.process_env import process_env
from idgraph.submit import plan_jobs
from idgraph.submit.local import build_command, build_env, spark_submit_path

DAY = dt.date(2024, 3, 5)


def test_packed_venv_keeps_code_and_drops_pyspark_jars(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "spark_jobs").mkdir()
    (site / "spark_jobs" / "entrypoint.py").write_text("print('hi')\n")
    (site / "pyspark" / "jars").mkdir(parents=True)
    (site / "pyspark" / "__init__.py").write_text("")
    (site / "pyspark" / "jars" / "spark-core.jar").write_bytes(b"\0" * 1024)

    archive = pack_venv(venv, tmp_path / "idgraph-venv.tar.gz", python_prefix="/usr")

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        links = {m.name: m.linkname for m in tar.getmembers() if m.name.startswith("bin/python")}
    assert any(n.endswith("site-packages/spark_jobs/entrypoint.py") for n in names)
    assert any(n.endswith("site-packages/pyspark/__init__.py") for n in names)
    assert not any("pyspark/jars" in n for n in names)
    # Relinked to the interpreter EMR's image provides, not this machine's.
    assert "bin/python" in links
    assert any(target.startswith("/usr/bin/python3") for target in links.values()), links


def test_local_etl_command_runs_the_entrypoint_with_spark_submit(tmp_path: Path) -> None:
    job = plan_jobs("etl", DAY, str(tmp_path / "lake"))[0]
    spark = SparkSettings(master="local[2]", shuffle_partitions=3, driver_memory="1g",
                          extra_conf={"spark.sql.adaptive.enabled": "false"})  # fmt: skip

    command = build_command(job, spark)

    assert Path(command[0]) == spark_submit_path() and spark_submit_path().is_file()
    assert command[1:7] == ["--master", "local[2]", "--name", "idgraph-etl-2024-03-05",
                            "--driver-memory", "1g"]  # fmt: skip
    assert "spark.sql.shuffle.partitions=3" in command
    assert "spark.sql.adaptive.enabled=false" in command
    entry = command.index(next(c for c in command if c.endswith("spark_jobs/entrypoint.py")))
    assert Path(command[entry]).is_file()
    assert command[entry + 1 :] == [
        "--stage", "etl", "--date", "2024-03-05", "--lake", str(tmp_path / "lake"),
    ]  # fmt: skip


def test_only_drain_and_publish_get_the_redis_target_and_daily_adds_them() -> None:
    jobs = plan_jobs("daily", DAY, "/l", redis_url="redis://h:1", force=True)
    assert [j.stage for j in jobs] == ["drain", "daily", "publish"]
    assert jobs[0].arguments()[-2:] == ["--redis-url", "redis://h:1"]  # no --force: not publish
    assert "--redis-url" not in jobs[1].arguments()
    assert jobs[2].arguments()[-3:] == ["--redis-url", "redis://h:1", "--force"]
    assert [j.stage for j in plan_jobs("daily", DAY, "/l", publish=False)] == ["daily"]
    broken = plan_jobs("daily", DAY, "/l", break_lock=True)
    # The drain is the first job to take the publish lock: it breaks it; the chain never
    # takes it, and the publish an hour later must not break a publish started meanwhile.
    assert broken[0].arguments()[-1] == "--break-lock"
    assert "--break-lock" not in broken[1].arguments() + broken[2].arguments()
    alone = plan_jobs("publish", DAY, "/l", redis_url="redis://h:1", break_lock=True)
    assert alone[0].arguments()[-3:] == ["--redis-url", "redis://h:1", "--break-lock"]


def test_child_env_uses_this_interpreter_and_keeps_settings() -> None:
    env = build_env({"IDGRAPH_ETL_LATENESS_DAYS": "2", "PATH": "/bin", "OMP_WAIT_POLICY": "X"})
    assert env["PYSPARK_PYTHON"] == sys.executable == env["PYSPARK_DRIVER_PYTHON"]
    assert env["IDGRAPH_ETL_LATENESS_DAYS"] == "2"
    assert env["OMP_WAIT_POLICY"] == "X"  # what the caller set wins
    assert env == process_env() | env  # every variable of the one list is there


def test_the_process_environment_is_set_without_pyspark() -> None:
    """One function owns it; the test suite, build_spark and the CLI call it before a JVM."""
    code = (
        "import os, sys\n"
        "from idgraph.core.settings.process_env import configure_process_env, process_env\n"
        "os.environ['SPARK_LOCAL_IP'] = '10.0.0.1'\n"
        "configure_process_env()\n"
        "assert 'pyspark' not in sys.modules, 'process_env imported pyspark'\n"
        "assert os.environ['SPARK_LOCAL_IP'] == '10.0.0.1'\n"
        "assert os.environ['PYSPARK_PYTHON'] == sys.executable\n"
        "assert os.environ['GX_ANALYTICS_ENABLED'] == 'false'\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_real_spark_submit_runs_the_entrypoint_and_publish_honours_the_gate(
    tmp_path: Path,
) -> None:
    """One real spark-submit (its own JVM) of the publish stage on a day whose gate failed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from idgraph.submit import SubmitFailed, Target, run_jobs

    lake = tmp_path / "lake"
    # The graph stage's health row, written without a JVM: only spark-submit starts one.
    health = lake / "health" / f"dt={DAY.isoformat()}"
    health.mkdir(parents=True)
    pq.write_table(
        pa.table({"gate_passed": [False], "gate_failures": [["churn 0.31 > 0.05"]]}),
        health / "part-00000.parquet",
    )
    settings = load_settings(
        lake={"root": str(lake)},
        spark={"master": "local[1]", "driver_memory": "1g", "shuffle_partitions": 1},
    )
    states: list[str] = []

    with pytest.raises(SubmitFailed) as info:
        run_jobs(
            plan_jobs("publish", DAY, str(lake)), Target.local, settings,
            on_state=lambda job, state: states.append(f"{job.stage}:{state}"),
        )  # fmt: skip

    outcome = info.value.outcome
    assert states == ["publish:RUNNING", "publish:FAILED"]
    assert not outcome.ok and outcome.state == "FAILED"
    assert "gate failed: churn 0.31 > 0.05" in outcome.reason
    assert outcome.results == [
        {"stage": "publish", "ok": False, "summary": {}, "error": outcome.reason}
    ]
