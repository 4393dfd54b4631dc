"""Golden outputs of the sample newsletter.

``python -m tests.golden`` rebuilds the sample issues in a scratch folder and rewrites
``tests/golden/`` and the repository's own published ``feeds/`` (what the Quick start's
``build-issue`` writes); ``tests/test_golden.py`` checks that a build still produces them byte
for byte. Review the diff of ``tests/golden/`` and ``feeds/`` before committing it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from pipeline.cli import main as newsletter

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
ISSUES = ("2026-09-equinox", "2026-12-solstice")
ISSUE_FILES = ("email.html", "email.txt", "index.html")


#: The golden build runs "as of" 1 January 2027, whatever the machine's clock says.
AS_OF_EPOCH = "1798761600"


def build_sample(workdir: Path) -> dict[str, bytes]:
    """Build each sample issue in a copy of the sample root; the outputs by golden name."""
    os.environ["SOURCE_DATE_EPOCH"] = AS_OF_EPOCH
    root = workdir / "sample"
    shutil.copytree(REPO / "issues", root / "issues")
    shutil.copytree(REPO / "templates", root / "templates")
    for name in ("newsletter.toml", "contributors.toml"):
        shutil.copy(REPO / name, root / name)
    outputs: dict[str, bytes] = {}
    for issue_id in ISSUES:
        status = newsletter(["build-issue", issue_id, "--root", str(root), "-q"])
        if status != 0:
            raise RuntimeError(f"building the sample issue {issue_id} failed ({status})")
        for name in ISSUE_FILES:
            outputs[f"{issue_id}/{name}"] = (root / "public" / issue_id / name).read_bytes()
    # After the last issue: the archive and the feeds cover both.
    outputs["index.html"] = (root / "public" / "index.html").read_bytes()
    for name in ("rss.xml", "atom.xml", "feed.json"):
        outputs[f"feeds/{name}"] = (root / "feeds" / name).read_bytes()
    return outputs


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        outputs = build_sample(Path(tmp))
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    for name, data in outputs.items():
        path = GOLDEN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {path.relative_to(REPO)}")
        if name.startswith("feeds/"):  # the repository's own published feeds
            (REPO / name).write_bytes(data)
            print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
