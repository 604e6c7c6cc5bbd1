# Environment values that are not secrets. Replace the placeholders before the first apply
# (docs/operations.md, "First deployment").
github_repository        = "idgraph/idgraph"
github_oidc_provider_arn = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"
alb_certificate_arn      = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"
allowed_cidr_blocks      = ["10.40.0.0/16"]
# Verify before the first apply: the release's Spark must match the pinned pyspark (4.1);
# EMR 7.x releases ship Spark 3.5. List them with `aws emr-serverless list-release-labels`.
emr_release_label = "emr-7.12.0"
