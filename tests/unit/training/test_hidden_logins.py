"""Hidden logins: the seeded choice, the nulling, the figures against pair enumeration, and the
rebuild protocol on a tiny simulated lake with a registered champion."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json

import numpy as np
import pytest
from pyspark.sql import functions as F

from training.hidden_logins import (
    HIDE_KEY,
    hidden_figures,
    hide_visits,
    is_hidden,
    login_cookies,
    truth_figures,
)

pytestmark = pytest.mark.spark

SEED = 20260125


def _hidden_in_python(login: str, seed: int, share: float) -> bool:
    """The same choice computed outside Spark (an oracle for ``hide_score``)."""
    digest = hashlib.sha256(f"{HIDE_KEY}/{seed}/{login}".encode()).hexdigest()
    return int(digest[:13], 16) / 16**13 < share


def _logins(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [hashlib.sha256(str(rng.random()).encode()).hexdigest() for _ in range(n)]


def test_the_hidden_set_is_a_seeded_function_of_the_hash_alone(spark):
    logins = _logins(500, SEED)
    df = spark.createDataFrame([(h,) for h in logins], "login_hash string")

    def hidden(frame, seed):
        flag = is_hidden(F.col("login_hash"), seed=seed, share=0.2)
        return {r.login_hash for r in frame.where(flag).collect()}

    first = hidden(df, 1)
    assert first == {h for h in logins if _hidden_in_python(h, 1, 0.2)}
    assert 60 <= len(first) <= 140  # 20% of 500, binomial sd ~9
    assert hidden(df.repartition(7).orderBy(F.rand(3)), 1) == first  # order does not matter
    second = hidden(df, 2)
    assert second != first and 60 <= len(second) <= 140
    # other hashes in the data change nothing: a day with fewer people hides the same ones
    assert hidden(df.where(F.col("login_hash").isin(logins[:250])), 1) == first & set(logins[:250])


def _visits(spark, rows):
    return spark.createDataFrame(
        rows, "site_id string, cookie_id string, event_id string, login_hash string, dt string"
    )


def test_hide_visits_nulls_hidden_logins_event_by_event(spark):
    from spark_jobs.common.optouts import OPTOUTS

    logins = _logins(200, SEED + 1)
    hidden = [h for h in logins if _hidden_in_python(h, 5, 0.3)]
    visible = [h for h in logins if not _hidden_in_python(h, 5, 0.3)]
    h1, h2, generic = hidden[:3]
    v1, v_out = visible[:2]
    visits = _visits(
        spark,
        [
            ("s1", "a", "e1", h1, "d1"),  # only a hidden login: becomes anonymous
            ("s1", "a", "e2", None, "d1"),
            ("s2", "b", "e3", h2, "d1"),  # a hidden and a visible login: keeps the visible
            ("s2", "b", "e4", v1, "d2"),
            ("s3", "c", "e5", generic, "d1"),  # generic: never hidden
            ("s4", "d", "e6", h1, "d1"),  # opted out by cookie
            ("s5", "e", "e7", None, "d1"),  # opted out through its login on another day
            ("s5", "e", "e8", v_out, "d2"),
        ],
    )
    optouts = spark.createDataFrame(
        [("cookie", "s4", "d", None, None), ("login_hash", None, None, v_out, None)], OPTOUTS
    )
    generic_df = spark.createDataFrame([(generic,)], "login_hash string")
    out = hide_visits(visits, generic=generic_df, optouts=optouts, seed=5, share=0.3)
    assert out.columns == visits.columns
    got = {r.event_id: r.login_hash for r in out.collect()}
    assert got == {"e1": None, "e2": None, "e3": None, "e4": v1, "e5": generic}


def _figures_brute_force(rows):
    """rows: (key, login or None, hidden, cluster or None, person)."""
    same = lambda a, b: a[3] is not None and a[3] == b[3]  # noqa: E731
    pairs = list(itertools.combinations(rows, 2))
    hidden_pairs = [(a, b) for a, b in pairs if a[2] and b[2] and a[1] == b[1]]
    predicted = [(a, b) for a, b in pairs if same(a, b) and a[1] and b[1] and (a[2] or b[2])]
    foreign = 0
    for login in {r[1] for r in rows if r[2]}:
        mine = [r for r in rows if r[1] == login]
        parts = {r[3] if r[3] is not None else ("single", r[0]) for r in mine}
        for part in parts:
            others = [r for r in rows if r[3] == part and r[1] and r[1] != login]
            foreign += len(others)
    touching = [(a, b) for a, b in pairs if same(a, b) and (a[2] or b[2])]
    return {
        "hidden_pairs": len(hidden_pairs),
        "linked_pairs": sum(same(a, b) for a, b in hidden_pairs),
        "predicted_pairs": len(predicted),
        "foreign_cookies": foreign,
        "truth_links": len(touching),
        "truth_correct": sum(a[4] == b[4] for a, b in touching),
    }


def test_hidden_figures_match_pair_enumeration(spark):
    rng = np.random.default_rng(SEED)
    rows = []
    for i in range(200):
        person = int(rng.integers(0, 50))
        login = f"L{person}" if rng.random() < 0.6 else None
        hidden = login is not None and person % 3 == 0
        r = rng.random()
        cluster = None if r < 0.15 else f"c{person // 2}" if r < 0.9 else f"c{person}"
        rows.append((f"k{i}", login, hidden, cluster, person))
    df = spark.createDataFrame(
        rows, "key string, login string, hidden boolean, cluster string, person_id long"
    )
    got = hidden_figures(df, cluster=F.col("cluster"))
    want = _figures_brute_force(rows)
    for key in ("hidden_pairs", "linked_pairs", "predicted_pairs", "foreign_cookies"):
        assert got[key] == want[key], key
    assert want["linked_pairs"] > 0 and want["foreign_cookies"] > 0
    assert got["recovery"] == pytest.approx(want["linked_pairs"] / want["hidden_pairs"])
    assert got["precision"] == pytest.approx(want["linked_pairs"] / want["predicted_pairs"])
    truth = truth_figures(df, cluster=F.col("cluster"))
    assert truth["hidden_cookie_links"] == want["truth_links"]
    assert truth["precision"] == pytest.approx(want["truth_correct"] / want["truth_links"])


# ---- the protocol on a tiny simulated lake --------------------------------------------------

DAY = dt.date(2026, 3, 2)


def _register_champion(settings) -> str:
    """A small real booster over the model's pair features, registered as the champion."""
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb

    from idgraph.core import model_registry as registry
    from spark_jobs.pair_scoring.pair_features import model_features

    columns = model_features(settings.training.excluded_features)
    rng = np.random.default_rng(SEED)
    x = rng.random((400, len(columns)))
    label = (x[:, columns.index("session_hop_days")] > 0.5).astype(int)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label, feature_names=columns), 5)
    client = registry.connect(settings)
    cfg = settings.training
    with mlflow.start_run(experiment_id=registry.experiment_id(client, settings)):
        info = mlflow.xgboost.log_model(
            booster,
            name="model",
            model_format="ubj",
            registered_model_name=cfg.model_name,
            pip_requirements=["xgboost"],
        )
    version = str(info.registered_model_version)
    client.set_model_version_tag(cfg.model_name, version, "threshold", "0.5")
    client.set_model_version_tag(cfg.model_name, version, "feature_columns", json.dumps(columns))
    registry.set_alias(client, cfg.model_name, registry.CHAMPION, version)
    return version


@pytest.mark.timeout(600)
def test_hide_logins_rebuild_is_reproducible_and_never_sees_the_hidden_logins(spark, tmp_path):
    from idgraph.core.lake import Lake
    from idgraph.core.settings import load_settings
    from idgraph.pipeline import DAILY_STAGES, run_day
    from idgraph.simulator import simulate
    from spark_jobs.common.io import path_exists, read_partition, read_table, write_partition
    from training.hidden_logins import generic_hashes, run_hidden_logins

    root = str(tmp_path / "lake")
    simulate(root, DAY, 1, 60, 3)  # one day keeps it fast; the window's other days add nothing
    settings = load_settings(lake={"root": root})
    version = _register_champion(settings)
    # The rebuild reads only the window's visits and the day's cookie features.
    assert run_day(spark, settings, DAY, stages=(DAILY_STAGES[0], DAILY_STAGES[2])).ok
    lake = Lake(root)
    features = read_partition(spark, lake, "cookie_features", DAY)
    # The original graph, login stars only: it links every same-login pair.
    key = F.concat_ws("/", "site_id", "cookie_id")
    write_partition(
        features.select("site_id", "cookie_id", F.coalesce("login_hash", key).alias("unified_id")),
        lake,
        "identity_graph",
        DAY,
    )

    work = str(tmp_path / "work")
    first = run_hidden_logins(spark, settings, DAY, share=0.4, seed=1, work_root=work, keep=True)
    assert first["model_version"] == version == first["rebuild"]["scoring"]["model_version"]
    assert first["rebuild"]["scoring"]["pairs_scored"] > 0
    assert first["hidden_logins"] > 0 and first["hidden_pairs"] > 0
    rebuilt = first["rebuilt"]
    assert 0 <= rebuilt["linked_pairs"] <= first["hidden_pairs"]
    assert first["original"]["recovery"] == 1.0 and first["original"]["foreign_cookies"] == 0
    assert 0 < first["truth"]["hidden_cookies"] <= first["hidden_cookies"]  # shared ones aside

    # Every stage of the work lake is blind to the hidden logins; the rest is intact.
    generic = generic_hashes(features, settings)
    hidden = login_cookies(features, generic=generic, seed=1, share=0.4).where("hidden")
    hidden_hashes = hidden.select(F.col("login").alias("login_hash")).distinct()
    assert hidden_hashes.count() == first["hidden_logins"]
    work_lake = Lake(work)
    work_visits = read_table(spark, work_lake, "visits")
    assert work_visits.join(hidden_hashes, "login_hash").count() == 0
    assert work_visits.count() == read_table(spark, lake, "visits").count()
    daily = read_table(spark, work_lake, "daily_cookie_aggregates")
    logins = daily.select(F.explode("login_hashes").alias("login_hash"))
    assert logins.join(hidden_hashes, "login_hash").count() == 0
    work_features = read_partition(spark, work_lake, "cookie_features", DAY)
    assert work_features.join(hidden_hashes, "login_hash").count() == 0
    assert work_features.count() == features.count()
    logged = F.col("login_hash").isNotNull()
    assert work_features.where(logged).count() < features.where(logged).count()

    # Same seed, same figures: the figures are a function of the hidden set and the graph, and
    # the hidden set of the seed alone (one rebuild here: a second costs half a minute).
    assigned = login_cookies(features, generic=generic, seed=1, share=0.4).join(
        read_partition(spark, work_lake, "identity_graph", DAY), ["site_id", "cookie_id"], "left"
    )
    selection = ("hidden_logins", "hidden_cookies", "hidden_pairs")
    again = hidden_figures(assigned, cluster=F.col("unified_id"))
    assert {k: v for k, v in again.items() if k not in selection} == rebuilt
    assert {k: again[k] for k in selection} == {k: first[k] for k in selection}
    other = login_cookies(features, generic=generic, seed=2, share=0.4).where("hidden")
    assert {r.login for r in other.collect()} != {r.login for r in hidden.collect()}

    # Only a work lake is ever replaced: not the lake's parent, not any other directory.
    with pytest.raises(ValueError, match="must not hold the lake"):
        run_hidden_logins(spark, settings, DAY, share=0.4, seed=1, work_root=str(tmp_path))
    (tmp_path / "precious").mkdir()
    with pytest.raises(ValueError, match="not a work lake"):
        run_hidden_logins(
            spark, settings, DAY, share=0.4, seed=1, work_root=str(tmp_path / "precious")
        )
    assert path_exists(spark, work)  # kept
