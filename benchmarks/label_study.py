"""``python -m benchmarks.label_study``: what the login labels cost, measured against the truth.

The pair model learns from login labels (both cookies logged in: the same hash is a
positive, different hashes a negative). This study trains the production model
configuration (features, depth, monotone constraints, class weight from
``TrainingSettings``) on the same candidate pairs with other labels, and compares the graphs
they give on the last day of a simulated lake:

- ``login``: the production labels;
- ``login_without_shared_devices``: the same, without pairs that touch a shared-device cookie
  (an oracle: the truth knows which devices are shared, the pixel does not);
- ``truth_on_login_pairs``: the same pairs, labelled with the simulator's person;
- ``truth_on_all_pairs``: every candidate pair, labelled with the simulator's person.

For each, the graph is the connected components of the deterministic links plus the K
best-scored pairs (never between two different login hashes), for a range of K; precision
and recall are pairwise, over cookies that are not on a shared device, as ``make eval``
reports them. The graph stage's over-merge splitting is not applied, so its figures run a
little above these.

It reads a lake that ``make demo`` (or ``make eval``) built and pulls its pair features to
the driver: a study of a simulated lake, bounded by ``--max-pairs``, not a production job.

    python -m benchmarks.label_study [--lake demo-lake] [--train-days 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import machine
from idgraph.core.settings.process_env import configure_process_env

RESULTS = Path(__file__).parent / "results"
KEYS = ["site_id_l", "cookie_id_l", "site_id_r", "cookie_id_r"]
EDGE_COUNTS = (250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000)
VARIANTS = (
    "login",
    "login_without_shared_devices",
    "truth_on_login_pairs",
    "truth_on_all_pairs",
    "truth_on_all_pairs_unconstrained",
)
# The last variant drops the production model's restraints (every feature, deeper trees, no
# monotone constraints): what the features can do when labels are plentiful and unskewed.
UNCONSTRAINED = {"excluded_features": [], "max_depth": 6, "n_estimators": 300, "monotone": False}


def pair_table(spark, lake: str, day: str, *, max_pairs: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A day's candidate pairs with their features, both sides' login and truth person."""
    from pyspark.sql import functions as F

    from spark_jobs.pair_scoring.pair_features import build_pair_features

    pairs = spark.read.parquet(f"{lake}/candidate_pairs/dt={day}").select(*KEYS)
    n = pairs.count()
    if n > max_pairs:
        raise SystemExit(f"{day}: {n:,} candidate pairs > --max-pairs {max_pairs:,}")
    features = spark.read.parquet(f"{lake}/cookie_features/dt={day}")
    truth = spark.read.parquet(f"{lake}/truth/cookies").select(
        "site_id",
        "cookie_id",
        "person_id",
        F.coalesce(F.col("shared_device"), F.lit(True)).alias("shared"),
    )
    side = features.select("site_id", "cookie_id", "login_hash").join(
        truth, ["site_id", "cookie_id"], "left"
    )
    table = build_pair_features(pairs, features)
    for s in ("l", "r"):
        table = table.join(
            side.select(*(F.col(c).alias(f"{c}_{s}") for c in side.columns)),
            [f"site_id_{s}", f"cookie_id_{s}"],
            "left",
        )
    return table.toPandas()


def labelled(train: pd.DataFrame, variant: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The training rows and labels of ``variant``."""
    both = train.login_hash_l.notna() & train.login_hash_r.notna()
    if variant == "login_without_shared_devices":
        both &= ~(train.shared_l.fillna(True) | train.shared_r.fillna(True))
    rows = train if variant.startswith("truth_on_all_pairs") else train[both]
    if variant.startswith("truth"):
        y = (rows.person_id_l == rows.person_id_r) & rows.person_id_l.notna()
    else:
        y = rows.login_hash_l == rows.login_hash_r
    return rows, y.to_numpy(dtype=int)


def fit_and_score(  # type: ignore[no-untyped-def]
    rows: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, variant: str, settings
) -> np.ndarray:
    """Fit the production configuration on ``variant``'s labels; scores of ``test``."""
    import xgboost as xgb

    from spark_jobs.pair_scoring.pair_features import model_features, monotone_constraints
    from training.model import scale_pos_weight

    if variant.endswith("_unconstrained"):
        settings = settings.model_copy(update=UNCONSTRAINED)
    cols = model_features(settings.excluded_features)
    extra = {"monotone_constraints": monotone_constraints(cols)} if settings.monotone else {}
    model = xgb.XGBClassifier(
        n_estimators=settings.n_estimators,
        max_depth=settings.max_depth,
        learning_rate=settings.learning_rate,
        scale_pos_weight=scale_pos_weight(int(y.sum()), int(len(y) - y.sum())),
        tree_method="hist",
        random_state=settings.seed,
        n_jobs=2,
        **extra,
    )
    model.fit(rows[cols], y)
    return model.predict_proba(test[cols])[:, 1]


class GraphJudge:
    """Pairwise precision/recall of graphs over one day's cookies, against the truth."""

    def __init__(self, cookies: pd.DataFrame) -> None:
        from scipy.sparse.csgraph import connected_components

        self._cc = connected_components
        self.index = pd.Series(np.arange(len(cookies)), index=cookies.key.to_numpy())
        self.n = len(cookies)
        logins = cookies.login_hash.astype("category")
        self.login = logins.cat.codes.to_numpy()
        self.person = cookies.person_id.to_numpy()
        self.judged = ~cookies.shared.fillna(True).to_numpy(dtype=bool)
        logged = np.flatnonzero(self.login >= 0)
        # Deterministic links: every logged-in cookie to a node of its login hash.
        self.det = (logged, self.n + self.login[logged])
        self.nodes = self.n + len(logins.cat.categories)
        self.det_correct = self.score(np.empty(0, int), np.empty(0, int))[1]

    def _components(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        import scipy.sparse as sp

        rows, cols = np.r_[self.det[0], i], np.r_[self.det[1], j]
        graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(self.nodes, self.nodes))
        return self._cc(graph, directed=False)[1][: self.n]

    def score(self, i: np.ndarray, j: np.ndarray) -> tuple[int, int]:
        """(predicted pairs, correct pairs) among judged cookies of the graph with edges i-j."""
        frame = pd.DataFrame({"c": self._components(i, j), "p": self.person})[self.judged]
        pairs = lambda sizes: int((sizes * (sizes - 1) // 2).sum())  # noqa: E731
        return pairs(frame.groupby("c").size()), pairs(frame.groupby(["c", "p"]).size())

    def sweep(
        self, test: pd.DataFrame, scores: np.ndarray, counts: tuple[int, ...] = EDGE_COUNTS
    ) -> list[dict[str, Any]]:
        """Graph precision and recall (× deterministic) for the K best-scored pairs."""
        i = self.index.reindex(test.site_id_l + "\u0001" + test.cookie_id_l).to_numpy()
        j = self.index.reindex(test.site_id_r + "\u0001" + test.cookie_id_r).to_numpy()
        known = ~(np.isnan(i) | np.isnan(j))
        i, j, s = i[known].astype(int), j[known].astype(int), scores[known]
        two_logins = (self.login[i] >= 0) & (self.login[j] >= 0) & (self.login[i] != self.login[j])
        order = np.argsort(-s, kind="stable")
        out = []
        for k in counts:
            top = order[:k]
            top = top[~two_logins[top]]
            predicted, correct = self.score(i[top], j[top])
            out.append(
                {
                    "edges": k,
                    "min_score": round(float(s[order[min(k, len(order)) - 1]]), 4),
                    "precision": round(correct / predicted, 4) if predicted else 0.0,
                    "recall_vs_deterministic": round(correct / self.det_correct, 3),
                }
            )
        return out


def best_at(sweep: list[dict[str, Any]], precision: float) -> dict[str, Any] | None:
    """The sweep row with the most recall at or above ``precision``."""
    ok = [r for r in sweep if r["precision"] >= precision]
    return max(ok, key=lambda r: r["recall_vs_deterministic"]) if ok else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.label_study")
    parser.add_argument("--lake", default="demo-lake")
    parser.add_argument("--train-days", type=int, default=3)
    parser.add_argument("--max-pairs", type=int, default=2_000_000)
    parser.add_argument("--target-precision", type=float, default=0.95)
    args = parser.parse_args(argv)
    configure_process_env()  # before xgboost loads OpenMP

    from idgraph.core.settings import load_settings
    from idgraph.pipeline import build_session
    from spark_jobs.pair_scoring.pair_features import model_features

    settings = load_settings()
    lake = str(Path(args.lake).resolve()) if "://" not in args.lake else args.lake
    days = sorted(p.name.removeprefix("dt=") for p in Path(lake, "candidate_pairs").glob("dt=*"))
    if len(days) < 2:
        raise SystemExit(f"{lake}: needs candidate pairs of at least two days (run make demo)")
    test_day, train_days = days[-1], days[-1 - args.train_days : -1]
    started = time.perf_counter()
    spark = build_session(settings)
    print(f"reading pairs: train {train_days[0]}..{train_days[-1]}, test {test_day}", flush=True)
    train = pd.concat(pair_table(spark, lake, d, max_pairs=args.max_pairs) for d in train_days)
    train = train.drop_duplicates(KEYS, keep="last")
    test = pair_table(spark, lake, test_day, max_pairs=args.max_pairs)
    cookies = spark.read.parquet(f"{lake}/cookie_features/dt={test_day}").select(
        "site_id", "cookie_id", "login_hash"
    )
    truth = spark.read.parquet(f"{lake}/truth/cookies").select(
        "site_id", "cookie_id", "person_id", "shared_device"
    )
    cookies = (
        cookies.join(truth, ["site_id", "cookie_id"], "left")
        .withColumnRenamed("shared_device", "shared")
        .toPandas()
    )
    spark.stop()
    cookies["key"] = cookies.site_id + "\u0001" + cookies.cookie_id
    judge = GraphJudge(cookies)

    result: dict[str, Any] = {
        "lake": args.lake,
        "train_days": train_days,
        "test_day": test_day,
        "train_pairs": len(train),
        "test_pairs": len(test),
        "model": {
            "features": len(model_features(settings.training.excluded_features)),
            "max_depth": settings.training.max_depth,
            "n_estimators": settings.training.n_estimators,
            "monotone": settings.training.monotone,
        },
        "variants": {},
    }
    header = f"{'labels':<30} {'rows':>7} {'pos':>6}  best recall at P>={args.target_precision}"
    print(header)
    for variant in VARIANTS:
        rows, y = labelled(train, variant)
        sweep = judge.sweep(test, fit_and_score(rows, y, test, variant, settings.training))
        best = best_at(sweep, args.target_precision)
        result["variants"][variant] = {
            "train_rows": len(rows),
            "train_positives": int(y.sum()),
            "best_at_target": best,
            "sweep": sweep,
        }
        shown = (
            f"x{best['recall_vs_deterministic']:.2f} (P {best['precision']:.3f}, "
            f"{best['edges']} edges)"
            if best
            else "not reached"
        )
        print(f"{variant:<30} {len(rows):>7} {int(y.sum()):>6}  {shown}", flush=True)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "labels.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
