"""Time the ``newsletter`` command on synthetic archives, side by side with Pelican.

    python bench/run.py [--issues 40] [--pieces 25] [--large-issues 200] [--runs 3]
                        [--keep DIR] [--pelican-venv DIR] [--json]

Generates with bench/generate.py (seed 1) an archive of ISSUES x PIECES pieces and one of
LARGE_ISSUES x PIECES, writes the first as a Pelican site (bench/pelican_site.py), and runs,
each as a whole process, RUNS times:

* Pelican 4.12 building that site with its feeds: ``pelican content -s pelicanconf.py -o
  output``, the output deleted before each run (in its own virtual environment, made here);
* a cold build of the archive: ``newsletter build --root ROOT -q``, with the outputs and the
  render cache deleted before each run, and the same of the large archive (these three take
  turns, so that a change in the machine's load weighs on each alike);
* ``newsletter build-issue NEWEST`` on the archive as its cold build left it (warm,
  unchanged), twice over: once through the render cache (the report of the last build deleted
  before each run, so the command builds), and once as an editor runs it again, the last
  build's report replayed (pipeline.uptodate; one untimed run first stores it);
* ``newsletter build-issue NEXT``: one new issue (bench/generate.py --next) added to the warm
  archive, with the outputs and the cache put back as the cold build left them before each
  run.

It reports the minimum and median wall time, the peak memory (the largest maximum resident set
size of the process or any of its workers, from ``os.wait4``) and the CPU use (user + system
time of the process and its workers over the wall time), then each target of the issue "Fast
at any size" next to the figure, PASS or FAIL. Every run must exit with status 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.seasons import IssueId

BENCH = Path(__file__).resolve().parent
GENERATE = BENCH / "generate.py"
PELICAN_SITE = BENCH / "pelican_site.py"
PELICAN_VENV = BENCH / "out" / "pelican-venv"
PELICAN_REQUIREMENTS = ("pelican==4.12.*", "markdown")
RUNS = 3
#: As of 1 January 2027, so every generated issue (up to 2026-12-solstice) is published.
AS_OF_EPOCH = 1798761600

# The targets of the issue "Fast at any size", on the machine the benchmark runs on.
COLD_VS_PELICAN = 0.25  # cold build of the archive, as a share of Pelican's cold build
NEW_ISSUE_VS_PELICAN = 0.05  # build-issue of one new issue on the warm archive, the same
UNCHANGED_VS_PELICAN = 0.03  # build-issue of the newest issue, nothing changed, the same
LARGE_VS_SMALL = 5.2  # cold build of the large archive over the cold build of the small one
PEAK_MB = 100.0  # peak memory of the cold build of the small archive
EVERY_CORE = 0.75  # CPU use of the cold build, as a share of all the cores, to count as "every"


class BenchError(RuntimeError):
    """A run failed: the message has the command, its exit status and its stderr."""


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_mb: float
    cpu_seconds: float
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

    @property
    def cores(self) -> float:
        """CPU seconds per wall second, the median over the runs (2.0 = two cores busy)."""
        return statistics.median(r.cpu_seconds / r.seconds for r in self.runs)

    def as_json(self) -> dict[str, Any]:
        return {
            "what": self.what, "command": self.command, "pieces": self.pieces,
            "issues": self.issues, "seconds": [round(r.seconds, 3) for r in self.runs],
            "cpu_seconds": [round(r.cpu_seconds, 3) for r in self.runs],
            "min_s": round(self.min_s, 3), "median_s": round(self.median_s, 3),
            "peak_mb": round(self.peak_mb, 1), "cores": round(self.cores, 2),
        }


@dataclass(frozen=True)
class Target:
    what: str
    measured: float
    limit: float
    below: bool  # True: must be at most the limit (below for "<" targets); False: at least
    unit: str
    detail: str
    strict: bool = False  # "<" rather than "<="

    @property
    def passed(self) -> bool:
        if not self.below:
            return self.measured >= self.limit
        return self.measured < self.limit if self.strict else self.measured <= self.limit

    @property
    def bound(self) -> str:
        sign = ("<" if self.strict else "<=") if self.below else ">="
        return f"{sign} {self.limit:g}{self.unit}"

    def as_json(self) -> dict[str, Any]:
        return {"target": self.what, "measured": round(self.measured, 3), "bound": self.bound,
                "detail": self.detail, "passed": self.passed}


def newsletter_command() -> Path:
    """The ``newsletter`` script of the environment that runs this benchmark."""
    script = Path(sys.executable).parent / "newsletter"
    if not script.is_file():
        raise BenchError(f"no 'newsletter' command beside {sys.executable}; install the "
                         "package into this environment (pip install -e .)")
    return script


def pelican_command(venv: Path) -> Path:
    """Pelican in its own virtual environment, made (from PyPI) when it is not there yet, so
    that it never mixes with the project's dependencies."""
    pelican = venv / "bin" / "pelican"
    python = venv / "bin" / "python"
    if pelican.is_file():
        version = subprocess.run([str(pelican), "--version"], capture_output=True, text=True,
                                 check=False).stdout.strip()
        if version.startswith("4.12"):
            return pelican
    log(f"installing {' '.join(PELICAN_REQUIREMENTS)} into {venv} ...")
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", *PELICAN_REQUIREMENTS]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(step)}\nexited with status {done.returncode}\n"
                             f"{done.stderr.strip()}\n(Pelican is the benchmark's peer; pip "
                             "needs to reach PyPI once, or pass --pelican-venv DIR with "
                             "pelican 4.12 installed)")
    return pelican


def _rss_mb(max_rss: int) -> float:
    """ru_maxrss in MB (2**20 bytes): Linux reports KiB, macOS bytes."""
    return max_rss / 2**20 if sys.platform == "darwin" else max_rss / 1024


def run_once(argv: list[str], scratch: Path, epoch: int = AS_OF_EPOCH) -> Run:
    """Run ``argv`` as a child process; its wall time, peak memory (its own or its largest
    worker's) and CPU time (its own and its workers'). Raise if it fails."""
    out, err = scratch / "stdout.txt", scratch / "stderr.txt"
    flags, mode = os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
    # Bytecode is kept (as an installed package has it): a PYTHONDONTWRITEBYTECODE of the
    # machine would make every run compile every module again.
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
           "NO_COLOR": "1", "SOURCE_DATE_EPOCH": str(epoch)}
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
    return Run(seconds, _rss_mb(usage.ru_maxrss), usage.ru_utime + usage.ru_stime, stderr)


def remove(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


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
    """Progress goes to stderr, so that stdout has only the tables (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


def measure(result: Result, runs: int, scratch: Path, prepare: Callable[[], None],
            epoch: int = AS_OF_EPOCH) -> Result:
    """Run one command ``runs`` times (``prepare`` before each)."""
    return alternate([(result, prepare)], runs, scratch, epoch)[0]


def alternate(measured: list[tuple[Result, Callable[[], None]]], runs: int, scratch: Path,
              epoch: int = AS_OF_EPOCH) -> list[Result]:
    """Run each command ``runs`` times, taking turns, so that a change in the machine's load
    during the benchmark weighs on each of them alike."""
    for number in range(1, runs + 1):
        for result, prepare in measured:
            prepare()
            log(f"{result.what}: run {number}/{runs} ...")
            run = run_once(result.command, scratch, epoch)
            log(f"  {run.seconds:.2f} s, {run.max_rss_mb:.1f} MB, {run.cpu_seconds:.2f} s CPU")
            if run.stderr.strip() and not result.command[0].endswith("pelican"):
                log(f"  it reported problems (exit status 0):\n{run.stderr.rstrip()}")
            result.runs.append(run)
    return [result for result, _ in measured]


def generate(root: Path, issues: int, pieces: int, scratch: Path) -> None:
    log(f"generating {issues} issues x {pieces} pieces into {root} ...")
    started = time.perf_counter()
    run_once([sys.executable, str(GENERATE), str(root), "--issues", str(issues),
              "--pieces", str(pieces), "--seed", "1"], scratch)
    log(f"  done in {time.perf_counter() - started:.1f} s")


def bench(work: Path, issues: int, pieces: int, large: int, runs: int, scratch: Path,
          venv: Path) -> list[Result]:
    newsletter = str(newsletter_command())
    pelican = str(pelican_command(venv))
    root, big, site = work / "archive", work / "large", work / "pelican"
    generate(root, issues, pieces, scratch)
    generate(big, large, pieces, scratch)
    run_once([sys.executable, str(PELICAN_SITE), str(root), str(site)], scratch)
    total = issues * pieces
    # Issue ids sort by date as text (YYYY-MM-...): the last folder is the newest issue.
    newest = max(p.name for p in (root / "issues").iterdir() if p.is_dir())

    def cold(at: Path) -> Callable[[], None]:
        return lambda: remove(at / "public", at / "feeds", at / ".cache")

    peer, ours, large_run = alternate([
        (Result("Pelican 4.12 cold (pelican content)", [
            pelican, str(site / "content"), "-s", str(site / "pelicanconf.py"), "-o",
            str(site / "output"), "-q"], total, issues), lambda: remove(site / "output")),
        (Result("newsletter build (cold)", [newsletter, "build", "--root", str(root), "-q"],
                total, issues), cold(root)),
        (Result("newsletter build (cold, large archive)", [
            newsletter, "build", "--root", str(big), "-q"], large * pieces, large), cold(big)),
    ], runs, scratch)
    unchanged = [newsletter, "build-issue", newest, "--root", str(root), "-q"]
    built = measure(Result(f"newsletter build-issue {newest} (unchanged, built from the cache)",
                           unchanged, total, issues), runs, scratch,
                    lambda: remove(root / ".cache" / "newsletter" / "uptodate"))
    run_once(unchanged, scratch)  # stores the report the next runs replay
    warm = measure(Result(f"newsletter build-issue {newest} (unchanged, replayed)", unchanged,
                          total, issues), runs, scratch, lambda: None)

    # One new issue on the archive as the cold build left it (outputs and cache put back).
    snapshot = scratch / "warm"
    for name in ("public", "feeds", ".cache"):
        shutil.copytree(root / name, snapshot / name)
    added = subprocess.run([sys.executable, str(GENERATE), str(root), "--next", "--pieces",
                            str(pieces), "--seed", "1"], capture_output=True, text=True,
                           check=True).stdout.split()[1]
    after = int((IssueId.parse(added).moment() + timedelta(days=1)).timestamp())

    def put_back() -> None:
        for name in ("public", "feeds", ".cache"):
            remove(root / name)
            shutil.copytree(snapshot / name, root / name)

    new = measure(Result(f"newsletter build-issue {added} (new issue, warm cache)", [
        newsletter, "build-issue", added, "--root", str(root), "-q"], total + pieces,
        issues + 1), runs, scratch, put_back, epoch=after)
    remove(snapshot)
    return [peer, ours, built, warm, new, large_run]


def targets(results: Sequence[Result]) -> list[Target]:
    peer, ours, _, warm, new, large = results
    cores = os.cpu_count() or 1
    return [
        Target(f"cold build of {ours.pieces} pieces in {ours.issues} issues / Pelican cold",
               ours.min_s / peer.min_s, COLD_VS_PELICAN, True, " x",
               f"{ours.min_s:.2f} s / {peer.min_s:.2f} s"),
        Target("build-issue of an unchanged issue, replayed / Pelican cold",
               warm.min_s / peer.min_s, UNCHANGED_VS_PELICAN, True, " x",
               f"{warm.min_s:.2f} s / {peer.min_s:.2f} s"),
        Target("build-issue of one new issue, warm cache / Pelican cold",
               new.min_s / peer.min_s, NEW_ISSUE_VS_PELICAN, True, " x",
               f"{new.min_s:.2f} s / {peer.min_s:.2f} s"),
        Target(f"cold build of {large.pieces} pieces / of {ours.pieces} pieces",
               large.min_s / ours.min_s, LARGE_VS_SMALL, True, " x",
               f"{large.min_s:.2f} s / {ours.min_s:.2f} s"),
        Target(f"peak memory, cold build of {ours.pieces} pieces", ours.peak_mb, PEAK_MB, True,
               " MB", "largest max RSS of the process or a worker", strict=True),
        Target(f"cold build of {ours.pieces} pieces uses every core", ours.cores,
               EVERY_CORE * cores, False, " cores",
               f"CPU time / wall time, of {cores} cores"),
    ]


def _table(rows: list[tuple[str, ...]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                       for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def table(results: Sequence[Result], checks: Sequence[Target], runs: int,
          info: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = [("what", "pieces", "issues", "min s", "median s",
                                    "peak MB", "cores")]
    for result in results:
        rows.append((result.what, str(result.pieces), str(result.issues), f"{result.min_s:.2f}",
                     f"{result.median_s:.2f}", f"{result.peak_mb:.1f}", f"{result.cores:.2f}"))
    lines = _table(rows, {1, 2, 3, 4, 5, 6})
    lines.append("")
    rows = [("target", "measured", "bound", "from", "result")]
    for check in checks:
        rows.append((check.what, f"{check.measured:.3f}{check.unit}", check.bound,
                     check.detail, "PASS" if check.passed else "FAIL"))
    lines += _table(rows, {1})
    lines += [
        "",
        f"{runs} runs each; wall time of the whole process; ratios of the minimum times; peak "
        "MB = max RSS (MB = 2**20 bytes); cores = (user + system CPU) / wall, the median run",
        f"machine: {info['cpu_count']} CPUs ({info['cpu']}), {info['python']}, "
        f"{info['platform']}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time 'newsletter build' and 'newsletter build-issue' on synthetic "
                    "archives, next to Pelican 4.12 building the same pieces (see "
                    "bench/README.md).")
    parser.add_argument("--issues", type=int, default=40, help="issues in the archive (40)")
    parser.add_argument("--pieces", type=int, default=25, help="pieces per issue (25)")
    parser.add_argument("--large-issues", type=int, default=200, metavar="N",
                        help="issues in the large archive (200)")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs of each ({RUNS})")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="generate the archives into DIR (new or empty) and keep them")
    parser.add_argument("--pelican-venv", type=Path, default=PELICAN_VENV, metavar="DIR",
                        help="Pelican's own virtual environment, made when missing "
                             "(default: bench/out/pelican-venv)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.issues < 1 or args.pieces < 2 or args.large_issues < 1 or args.runs < 1:
        parser.error("need --issues, --large-issues and --runs 1 or more and --pieces 2 or "
                     "more")
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty")

    info = machine()
    try:
        with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as tmp:
            scratch = Path(tmp)
            work = args.keep.resolve() if args.keep is not None else scratch / "work"
            results = bench(work, args.issues, args.pieces, args.large_issues, args.runs,
                            scratch, args.pelican_venv.resolve())
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    checks = targets(results)
    if args.json:
        print(json.dumps({
            "machine": info, "runs": args.runs, "issues": args.issues,
            "pieces_per_issue": args.pieces, "large_issues": args.large_issues,
            "results": [r.as_json() for r in results],
            "targets": [t.as_json() for t in checks],
        }, indent=2, ensure_ascii=False))
    else:
        print(table(results, checks, args.runs, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
