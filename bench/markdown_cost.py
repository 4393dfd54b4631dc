"""How much CPU Python-Markdown alone costs on the synthetic archive (a floor under any build).

    python bench/markdown_cost.py ARCHIVE    # an archive written by bench/generate.py

Converts every piece's body once, with a fresh converter and the pipeline's extensions (as
pipeline.markup does), and prints the CPU time: shared perfectly over the machine's cores,
no build of the same pieces can take less wall time than that share.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import frontmatter
import markdown

from pipeline.markup import EXTENSIONS


def main(archive: Path) -> int:
    paths = [p for p in sorted((archive / "issues").glob("*/*.md")) if p.name != "issue.md"]
    bodies = [frontmatter.loads(p.read_text(encoding="utf-8")).content for p in paths]
    started = time.process_time()
    for body in bodies:
        markdown.Markdown(extensions=list(EXTENSIONS)).convert(body)
    cpu = time.process_time() - started
    cores = os.cpu_count() or 1
    print(f"{len(bodies)} pieces: Python-Markdown alone {cpu:.2f} s of CPU "
          f"({cpu / max(len(bodies), 1) * 1000:.2f} ms a piece); on {cores} perfect cores "
          f"{cpu / cores:.2f} s")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
