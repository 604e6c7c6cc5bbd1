"""Terraform is checked statically here: it parses, follows the module layout, pins versions,
documents its variables, encodes the data-retention and Valkey-layout rules, and passes checkov.
``terraform fmt -check``/``validate``/``plan`` run in GitHub Actions (terraform.yml)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.unit.infra.paths import TERRAFORM

TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ENV_ROOTS = [TERRAFORM / "envs" / "dev", TERRAFORM / "envs" / "prod"]
ROOTS = [*ENV_ROOTS, TERRAFORM / "bootstrap"]


def _load(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return hcl2.load(fh)


def _unquote(value: Any) -> Any:
    # python-hcl2 keeps string literals quoted ("\"x\"") in expressions; strip for comparisons.
    return value[1:-1] if isinstance(value, str) and value[:1] == value[-1:] == '"' else value


def _blocks(parsed: dict[str, Any], kind: str) -> dict[str, Any]:
    """Labelled blocks of one kind (variable, output, module) by their unquoted label."""
    return {
        _unquote(name): body
        for block in parsed.get(kind, [])
        for name, body in block.items()
        if not name.startswith("__")
    }


def _resources(parsed: dict[str, Any], kind: str) -> dict[str, Any]:
    """Resources of one type by their unquoted name."""
    return {
        _unquote(name): body
        for block in parsed.get("resource", [])
        for rtype, named in block.items()
        if _unquote(rtype) == kind
        for name, body in named.items()
        if not name.startswith("__")
    }


def test_there_is_terraform_to_check() -> None:
    assert len(TF_FILES) >= 40 and len(MODULES) >= 8


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses_and_is_laid_out_like_fmt(path: Path) -> None:
    _load(path)
    text = path.read_text()
    assert text.endswith("\n") and not text.endswith("\n\n"), "one trailing newline"
    for number, line in enumerate(text.splitlines(), 1):
        assert "\t" not in line, f"line {number}: tab"
        assert line == line.rstrip(), f"line {number}: trailing whitespace"
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"line {number}: indent not a multiple of 2"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_every_module_has_the_four_files_and_a_tags_variable(module: Path) -> None:
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= {
        p.name for p in module.glob("*.tf")
    }
    assert "tags" in _blocks(_load(module / "variables.tf"), "variable")
    outputs = _blocks(_load(module / "outputs.tf"), "output")
    assert outputs and all(body.get("description") for body in outputs.values())


@pytest.mark.parametrize(
    "path", [p for p in TF_FILES if p.name == "variables.tf"], ids=lambda p: str(p.parent.name)
)
def test_every_variable_is_typed_and_described(path: Path) -> None:
    variables = _blocks(_load(path), "variable")
    assert variables
    for name, body in variables.items():
        assert "type" in body, f"{name}: no type"
        assert len(_unquote(body.get("description", ""))) >= 10, f"{name}: no description"


@pytest.mark.parametrize("root", ENV_ROOTS, ids=lambda p: p.name)
def test_env_roots_pin_versions_and_use_the_locked_s3_backend(root: Path) -> None:
    terraform = _load(root / "versions.tf")["terraform"][0]
    assert _unquote(terraform["required_version"]) == "= 1.11.4"
    providers = terraform["required_providers"][0]
    for name in ("aws", "random"):
        assert re.fullmatch(r"= \d+\.\d+\.\d+", _unquote(providers[name]["version"])), name
    backend = terraform["backend"][0]['"s3"']
    assert _unquote(backend["key"]) == f"idgraph/{root.name}/terraform.tfstate"
    assert _unquote(backend["dynamodb_table"]) == "idgraph-terraform-locks"
    assert backend["encrypt"] is True
    provider = _load(root / "main.tf")["provider"][0]['"aws"']
    assert "default_tags" in provider, "every resource gets the project tags"


def test_roots_use_every_module_and_bootstrap_creates_the_backend() -> None:
    for root in ENV_ROOTS:
        sources = {
            _unquote(b["source"]) for b in _blocks(_load(root / "main.tf"), "module").values()
        }
        used = {s.rsplit("/", 1)[-1] for s in sources}
        assert used == {m.name for m in MODULES} - {"s3_bucket"}, root.name  # s3_bucket via storage
    bootstrap = _load(TERRAFORM / "bootstrap" / "main.tf")
    for kind in ("aws_s3_bucket", "aws_iam_openid_connect_provider", "aws_s3_bucket_versioning"):
        assert _resources(bootstrap, kind), kind
    assert _unquote(_resources(bootstrap, "aws_dynamodb_table")["locks"]["hash_key"]) == "LockID"


def test_raw_events_are_kept_at_least_180_days_then_expire() -> None:
    variables = _blocks(_load(TERRAFORM / "modules" / "storage" / "variables.tf"), "variable")
    retention = variables["raw_retention_days"]
    assert retention["default"] >= 180
    assert ">= 180" in retention["validation"][0]["condition"]
    raw = _blocks(_load(TERRAFORM / "modules" / "storage" / "main.tf"), "module")["raw"]
    (rule,) = raw["lifecycle_rules"]
    assert rule["expiration_days"] == "${var.raw_retention_days}"
    for root in ENV_ROOTS:
        root_vars = _blocks(_load(root / "variables.tf"), "variable")
        assert root_vars["raw_retention_days"]["default"] >= 180


def test_valkey_is_a_multi_az_encrypted_cluster_with_the_listpack_layout() -> None:
    main = _load(TERRAFORM / "modules" / "redis" / "main.tf")
    group = _resources(main, "aws_elasticache_replication_group")["this"]
    assert _unquote(group["engine"]) == "valkey"
    assert _unquote(group["cluster_mode"]) == "enabled"
    for flag in ("automatic_failover_enabled", "multi_az_enabled", "at_rest_encryption_enabled",
                 "transit_encryption_enabled"):  # fmt: skip
        assert group[flag] is True, flag
    assert "aws_secretsmanager_secret_version.auth_token" in group["auth_token"]
    params = {
        _unquote(p["name"]): _unquote(p["value"])
        for p in _resources(main, "aws_elasticache_parameter_group")["this"]["parameter"]
    }
    assert params["cluster-enabled"] == "yes"
    assert params["maxmemory-policy"] == "noeviction"
    variables = _blocks(_load(TERRAFORM / "modules" / "redis" / "variables.tf"), "variable")
    assert variables["hash_max_listpack_entries"]["default"] >= 1024
    assert variables["hash_max_listpack_value"]["default"] >= 64
    assert params["hash-max-listpack-entries"] == "${tostring(var.hash_max_listpack_entries)}"


def test_parameter_group_admits_the_buckets_the_loader_writes() -> None:
    """The loader cannot CONFIG SET on ElastiCache: the parameter group must already be enough."""
    from idgraph.core.settings import RedisSettings

    redis = RedisSettings()
    variables = _blocks(_load(TERRAFORM / "modules" / "redis" / "variables.tf"), "variable")
    assert variables["hash_max_listpack_entries"]["default"] >= redis.listpack_entries
    assert variables["hash_max_listpack_entries"]["default"] > 2 * redis.bucket_fill
    assert variables["hash_max_listpack_value"]["default"] >= redis.listpack_value


def test_alarms_cover_latency_errors_memory_and_the_daily_job() -> None:
    alarms = _resources(
        _load(TERRAFORM / "modules" / "monitoring" / "main.tf"), "aws_cloudwatch_metric_alarm"
    )
    assert set(alarms) == {
        "lookup_p99", "lookup_5xx_rate", "redis_memory", "daily_job_failed", "daily_job_missing",
        "graph_degraded",
    }  # fmt: skip
    assert _unquote(alarms["lookup_p99"]["extended_statistic"]) == "p99"
    assert all(body.get("alarm_actions") for body in alarms.values())


def _data(parsed: dict[str, Any], kind: str) -> dict[str, Any]:
    """Data sources of one type by their unquoted name."""
    return {
        _unquote(name): body
        for block in parsed.get("data", [])
        for dtype, named in block.items()
        if _unquote(dtype) == kind
        for name, body in named.items()
        if not name.startswith("__")
    }


def test_graph_degraded_alarm_watches_the_graph_jobs_metric() -> None:
    """spark_jobs/graph/metrics.py puts GraphDegraded (0/1, no dimensions) once per day."""
    monitoring = TERRAFORM / "modules" / "monitoring"
    alarm = _resources(_load(monitoring / "main.tf"), "aws_cloudwatch_metric_alarm")[
        "graph_degraded"
    ]
    assert _unquote(alarm["metric_name"]) == "GraphDegraded"
    assert alarm["namespace"] == "${var.graph_metrics_namespace}"
    assert "dimensions" not in alarm  # the job sends its datums without dimensions
    assert _unquote(alarm["statistic"]) == "Maximum"
    assert alarm["period"] == 86400 and alarm["evaluation_periods"] == 1
    assert _unquote(alarm["comparison_operator"]) == "GreaterThanOrEqualToThreshold"
    assert alarm["threshold"] == 1
    assert _unquote(alarm["treat_missing_data"]) == "notBreaching"  # daily_job_missing's job
    assert alarm["alarm_actions"] == "${local.actions}"
    assert "docs/operations.md#graph-degraded" in alarm["alarm_description"]
    variables = _blocks(_load(monitoring / "variables.tf"), "variable")
    assert _unquote(variables["graph_metrics_namespace"]["default"]) == "idgraph/graph"
    names = _blocks(_load(monitoring / "outputs.tf"), "output")["alarm_names"]["value"]
    assert "aws_cloudwatch_metric_alarm.graph_degraded.alarm_name" in names


def test_job_role_may_put_metrics_only_in_the_graph_namespace() -> None:
    emr = TERRAFORM / "modules" / "emr_serverless"
    statements = _data(_load(emr / "main.tf"), "aws_iam_policy_document")["job"]["statement"]
    metric_statements = [s for s in statements if any("cloudwatch:" in a for a in s["actions"])]
    (statement,) = metric_statements
    assert [_unquote(a) for a in statement["actions"]] == ["cloudwatch:PutMetricData"]
    assert [_unquote(r) for r in statement["resources"]] == ["*"]  # no resource-level perms
    (condition,) = statement["condition"]
    assert _unquote(condition["test"]) == "StringEquals"
    assert _unquote(condition["variable"]) == "cloudwatch:namespace"
    assert condition["values"] == ["${var.metrics_namespace}"]
    for other in statements:  # every other statement names its resources
        if other is not statement:
            assert '"*"' not in other["resources"], other["sid"]
    variables = _blocks(_load(emr / "variables.tf"), "variable")
    assert _unquote(variables["metrics_namespace"]["default"]) == "idgraph/graph"
    for root in ENV_ROOTS:  # the role and the alarm get the same namespace, CI gets it too
        main = _load(root / "main.tf")
        locals_ = {k: v for block in main["locals"] for k, v in block.items()}
        assert _unquote(locals_["graph_metrics_namespace"]) == "idgraph/graph", root.name
        modules = _blocks(main, "module")
        assert modules["emr"]["metrics_namespace"] == "${local.graph_metrics_namespace}"
        assert (
            modules["monitoring"]["graph_metrics_namespace"] == "${local.graph_metrics_namespace}"
        )
        outputs = _blocks(_load(root / "outputs.tf"), "output")
        assert outputs["graph_metrics_namespace"]["value"] == "${local.graph_metrics_namespace}"


def test_every_checkov_skip_is_justified() -> None:
    skips = [
        (path, line.strip())
        for path in TF_FILES
        for line in path.read_text().splitlines()
        if "checkov:skip" in line
    ]
    assert skips
    for path, line in skips:
        assert re.fullmatch(r"#checkov:skip=CKV2?_AWS_\d+:.{20,}", line), f"{path}: {line}"


def test_checkov_passes(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for report in checkov_report["reports"]
        for c in report.get("results", {}).get("failed_checks", [])
    ]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in checkov_report["reports"])
    assert not failed, "\n".join(failed)
    assert passed > 300, checkov_report["stderr"][-2000:]
    assert checkov_report["returncode"] == 0


def test_the_ip_hash_key_secret_has_no_value_in_terraform_and_only_the_job_role_reads_it() -> None:
    """The ETL reads its IP key from this secret (spark_jobs/etl/ip_key.py); the value is put
    out of band, so it is in no state file and no code."""
    emr = TERRAFORM / "modules" / "emr_serverless"
    main = _load(emr / "main.tf")
    secret = _resources(main, "aws_secretsmanager_secret")["ip_hash_key"]
    assert secret["kms_key_id"] == "${var.kms_key_arn}"
    for path in TF_FILES:  # no version, no random value for it anywhere
        text = path.read_text()
        assert "aws_secretsmanager_secret.ip_hash_key.id" not in text, path
        versions = _resources(_load(path), "aws_secretsmanager_secret_version")
        assert not [v for v in versions.values() if "ip_hash_key" in str(v)], path
    arn = "${aws_secretsmanager_secret.ip_hash_key.arn}"
    statements = _data(main, "aws_iam_policy_document")["job"]["statement"]
    readers = [s for s in statements if arn in s["resources"]]
    assert [
        (_unquote(s["sid"]), [_unquote(a) for a in s["actions"]], s["resources"]) for s in readers
    ] == [("ReadIpHashKey", ["secretsmanager:GetSecretValue"], [arn])]
    (deny,) = _data(main, "aws_iam_policy_document")["ip_hash_key"]["statement"]
    assert _unquote(deny["effect"]) == "Deny"
    assert [_unquote(a) for a in deny["actions"]] == ["secretsmanager:GetSecretValue"]
    (condition,) = deny["condition"]
    assert _unquote(condition["test"]) == "StringNotEquals"
    assert _unquote(condition["variable"]) == "aws:PrincipalArn"
    assert condition["values"] == ["${aws_iam_role.job.arn}"]
    policy = _resources(main, "aws_secretsmanager_secret_policy")["ip_hash_key"]
    assert policy["secret_arn"] == arn
    module_outputs = _blocks(_load(emr / "outputs.tf"), "output")
    assert module_outputs["ip_hash_key_secret_arn"]["value"] == arn
    for root in ENV_ROOTS:
        outputs = _blocks(_load(root / "outputs.tf"), "output")
        value = outputs["ip_hash_key_secret_arn"]["value"]
        assert value == "${module.emr.ip_hash_key_secret_arn}", root.name
