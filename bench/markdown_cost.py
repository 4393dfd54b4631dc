"""How much CPU the Markdown engines cost on the synthetic archive (a floor under any build).

    python bench/markdown_cost.py ARCHIVE    # an archive written by bench/generate.py

Converts every piece's body once with each flavour's engine (pipeline.engines: cmark-gfm for
gfm, Python-Markdown with its default extensions for python-markdown), then once through the
shared pass that follows either engine (pipeline.markup.draft: sanitising, heading ids and
shift), and prints the CPU time of each: shared perfectly over the machine's cores, no build
of the same pieces can take less wall time than that share.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import frontmatter

from pipeline.engines import FLAVOURS, MarkdownOptions, convert
from pipeline.markup import draft


def _cpu(bodies: list[str], work: Callable[[str], object]) -> float:
    started = time.process_time()
    for body in bodies:
        work(body)
    return time.process_time() - started


def main(archive: Path) -> int:
    paths = [p for p in sorted((archive / "issues").glob("*/*.md")) if p.name != "issue.md"]
    bodies = [frontmatter.loads(p.read_text(encoding="utf-8")).content for p in paths]
    cores = os.cpu_count() or 1
    each = max(len(bodies), 1)
    print(f"{len(bodies)} pieces, CPU seconds (ms a piece; on {cores} perfect cores):")
    for flavour in FLAVOURS:
        options = MarkdownOptions(flavour)
        engine = _cpu(bodies, lambda body, o=options: convert(body, o))  # type: ignore[misc]
        draft.cache_clear()
        shared = _cpu(bodies, lambda body, o=options: draft.__wrapped__(body, o))  # type: ignore[misc]
        print(f"  {flavour:16} engine {engine:6.2f} s ({engine / each * 1000:.2f} ms; "
              f"{engine / cores:.2f} s)   engine + shared pass {shared:6.2f} s "
              f"({shared / each * 1000:.2f} ms; {shared / cores:.2f} s)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
