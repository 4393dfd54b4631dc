"""Time the ``newsletter`` command on a synthetic archive.

    python bench/run.py [--issues 40] [--pieces 25] [--keep DIR] [--json]

Generates an archive with bench/generate.py (seed 1) into a temporary folder (or DIR with
--keep, which is left in place), then runs, each as a whole process of the ``newsletter``
installed beside ``sys.executable``, RUNS times:

* a cold build of the whole archive: ``newsletter build --root ROOT -q``, with the output
  (``public/`` and ``feeds/``) deleted before each run;
* ``newsletter build-issue NEWEST --root ROOT -q`` for the newest issue, on the archive as the
  full build left it.

It reports the minimum and median wall time and the peak memory (the child's maximum resident
set size, from ``os.wait4``). Every run must exit with status 0, or the benchmark stops.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATE = Path(__file__).resolve().parent / "generate.py"
RUNS = 3
TARGET = "cold build of 1000 pieces well under 2 s and under 100 MB"
TARGET_SECONDS, TARGET_MB, TARGET_PIECES = 2.0, 100.0, 1000


class BenchError(RuntimeError):
    """A run failed: the message has the command, its exit status and its stderr."""


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_mb: float
    stderr: str


@dataclass
class Result:
    what: str
    command: list[str]
    pieces: int
    issues: int
    runs: list[Run] = field(default_factory=list)

    @property
    def min_s(self) -> float:
        return min(r.seconds for r in self.runs)

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(r.max_rss_mb for r in self.runs)

    def as_json(self) -> dict[str, Any]:
        return {
            "what": self.what, "command": self.command, "pieces": self.pieces,
            "issues": self.issues, "seconds": [round(r.seconds, 3) for r in self.runs],
            "min_s": round(self.min_s, 3), "median_s": round(self.median_s, 3),
            "peak_mb": round(self.peak_mb, 1),
        }


def newsletter_command() -> Path:
    """The ``newsletter`` script of the environment that runs this benchmark."""
    script = Path(sys.executable).parent / "newsletter"
    if not script.is_file():
        raise BenchError(f"no 'newsletter' command beside {sys.executable}; install the "
                         "package into this environment (pip install -e .)")
    return script


def _rss_mb(max_rss: int) -> float:
    """ru_maxrss in MB (2**20 bytes): Linux reports KiB, macOS bytes."""
    return max_rss / 2**20 if sys.platform == "darwin" else max_rss / 1024


def run_once(argv: list[str], scratch: Path) -> Run:
    """Run ``argv`` as a child process; its wall time and peak memory. Raise if it fails."""
    out, err = scratch / "stdout.txt", scratch / "stderr.txt"
    flags, mode = os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
    # As of 1 January 2027, so every generated issue (up to 2026-12-solstice) is published.
    env = {**os.environ, "NO_COLOR": "1", "SOURCE_DATE_EPOCH": "1798761600"}
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, str(out), flags, mode),
        (os.POSIX_SPAWN_OPEN, 2, str(err), flags, mode),
    ])
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    stderr = err.read_text(encoding="utf-8", errors="replace")
    if code != 0:
        stdout = out.read_text(encoding="utf-8", errors="replace")
        raise BenchError(f"{' '.join(argv)}\nexited with status {code}\n"
                         f"--- stderr ---\n{stderr.rstrip()}\n--- stdout ---\n{stdout.rstrip()}")
    return Run(seconds, _rss_mb(usage.ru_maxrss), stderr)


def clear_output(root: Path) -> None:
    for name in ("public", "feeds"):
        shutil.rmtree(root / name, ignore_errors=True)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(), "cpu": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout has only the table (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


def bench(root: Path, issues: int, pieces: int, scratch: Path) -> list[Result]:
    log(f"generating {issues} issues x {pieces} pieces into {root} ...")
    started = time.perf_counter()
    run_once([sys.executable, str(GENERATE), str(root), "--issues", str(issues),
              "--pieces", str(pieces), "--seed", "1"], scratch)
    log(f"  done in {time.perf_counter() - started:.1f} s")
    # Issue ids sort by date as text (YYYY-MM-...): the last folder is the newest issue.
    ids = sorted((p.name for p in (root / "issues").iterdir() if p.is_dir()), reverse=True)
    newsletter = str(newsletter_command())
    total = issues * pieces

    cold = Result("cold build (build)", [newsletter, "build", "--root", str(root), "-q"],
                  total, issues)
    one = Result(f"build-issue {ids[0]}",
                 [newsletter, "build-issue", ids[0], "--root", str(root), "-q"], total, issues)
    for result, prepare in ((cold, True), (one, False)):
        for number in range(1, RUNS + 1):
            if prepare:
                clear_output(root)
            log(f"{result.what}: run {number}/{RUNS} ...")
            run = run_once(result.command, scratch)
            log(f"  {run.seconds:.2f} s, {run.max_rss_mb:.1f} MB")
            if run.stderr.strip():
                log(f"  it reported problems (exit status 0):\n{run.stderr.rstrip()}")
            result.runs.append(run)
    return [cold, one]


def target_status(cold: Result) -> str:
    if cold.pieces < TARGET_PIECES:
        return f"n/a (the target is for {TARGET_PIECES} pieces)"
    met = cold.min_s < TARGET_SECONDS and cold.peak_mb < TARGET_MB
    return "met" if met else "not met"


def table(results: Sequence[Result], info: dict[str, Any]) -> str:
    header = ("what", "pieces", "issues", "min s", "median s", "peak MB", "target")
    rows = [header]
    for result in results:
        target = f"< {TARGET_SECONDS:g} s, < {TARGET_MB:g} MB: {target_status(result)}" \
            if result is results[0] else "-"
        rows.append((result.what, str(result.pieces), str(result.issues),
                     f"{result.min_s:.2f}", f"{result.median_s:.2f}",
                     f"{result.peak_mb:.1f}", target))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    left = {0, len(header) - 1}
    lines = ["  ".join(cell.ljust(widths[i]) if i in left else cell.rjust(widths[i])
                       for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [
        "",
        f"{RUNS} runs each; wall time of the whole process; peak MB = max RSS of the child "
        "(MB = 2**20 bytes)",
        f"target (from the issue): {TARGET}",
        f"machine: {info['cpu_count']} CPUs ({info['cpu']}), {info['python']}, "
        f"{info['platform']}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time 'newsletter build' and 'newsletter build-issue' on a synthetic "
                    "archive (see bench/README.md).")
    parser.add_argument("--issues", type=int, default=40, help="issues in the archive (40)")
    parser.add_argument("--pieces", type=int, default=25, help="pieces per issue (25)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="generate the archive into DIR (new or empty) and keep it")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.issues < 1 or args.pieces < 2:
        parser.error("need --issues 1 or more and --pieces 2 or more")
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty")

    info = machine()
    try:
        with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as tmp:
            scratch = Path(tmp)
            root = args.keep.resolve() if args.keep is not None else scratch / "root"
            results = bench(root, args.issues, args.pieces, scratch)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1

    if args.json:
        print(json.dumps({
            "machine": info, "runs": RUNS, "issues": args.issues,
            "pieces_per_issue": args.pieces, "target": TARGET,
            "cold_build_target": target_status(results[0]),
            "results": [r.as_json() for r in results],
        }, indent=2, ensure_ascii=False))
    else:
        print(table(results, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
