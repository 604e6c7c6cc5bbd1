"""The repository stands alone: no tracked file points outside it, no doc link is dangling.

Pure Python over ``git ls-files``: no Spark, no network, milliseconds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.unit.infra.paths import ROOT

# Spelled in pieces so that this file does not match itself.
FORBIDDEN = ("../" + "shared", "DESIGN" + ".md", "ENVIRONMENT" + ".md")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def tracked_files() -> list[Path]:
    """Every file git tracks in this checkout (that still exists in the worktree)."""
    assert shutil.which("git"), "git is needed to list the repository's files"
    proc = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, timeout=30
    )
    assert proc.returncode == 0, f"not a git checkout: {proc.stderr.decode(errors='replace')}"
    names = [n for n in proc.stdout.decode().split("\0") if n]
    return [ROOT / n for n in names if (ROOT / n).is_file()]


def _text(path: Path) -> str | None:
    """The file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def relative_links(markdown: str) -> list[str]:
    """Targets of the markdown links that point into the repository (no scheme, no bare
    anchor), anchors and queries dropped; code blocks and code spans are not links."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    targets = []
    for target in _LINK.findall(prose):
        if _SCHEME.match(target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0].split("?", 1)[0])
    return [t for t in targets if t]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    files = tracked_files()
    assert files, "git ls-files listed nothing"
    hits = []
    for path in files:
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            hits += [
                f"{path.relative_to(ROOT)}:{number}: {word}" for word in FORBIDDEN if word in line
            ]
    assert not hits, "references to documents outside the repository:\n" + "\n".join(hits)


def test_relative_markdown_links_resolve() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(docs) > 1, "README.md and docs/*.md not found"
    broken = []
    for doc in docs:
        for target in relative_links(doc.read_text(encoding="utf-8")):
            base = ROOT if target.startswith("/") else doc.parent
            if not (base / target.lstrip("/")).exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)


def test_the_link_reader_sees_links_and_only_links() -> None:
    text = (
        "See [tables](tables.md#layout), [site](https://example.com/x.md), [top](#top),\n"
        '![img](img/a.png "title") and `[not](code.md)`.\n'
        "```\n[nor](block.md)\n```\n"
    )
    assert relative_links(text) == ["tables.md", "img/a.png"]
