"""``newsletter init``: a new organisation's root, which builds as it is."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
import yaml

from pipeline.cli import main, make_parser
from pipeline.config import load_config
from pipeline.init import EXAMPLES, init
from pipeline.options import OPTIONS, REQUIRED
from pipeline.seasons import next_issue
from tests.conftest import AS_OF_EPOCH, REPO, RunCli

#: Words of this repository's own newsletter that must never reach another organisation's.
FOREIGN = ("Ethics & Society", "Ethics &amp; Society", "Ethics &#38; Society",
           "Ethics is everyone's work", "Ethics is everyone&#39;s work", "ethics.example.org",
           "Amara Osei", "The cost of computation")
AS_OF = datetime.fromtimestamp(int(AS_OF_EPOCH), UTC)
COMING = str(next_issue(AS_OF.date(), ZoneInfo("UTC")))


def _workflows(root: Path) -> dict[str, dict[object, object]]:
    found = {}
    for path in sorted((root / ".github" / "workflows").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(data, dict), path
        found[path.name] = data
    return found


def _commands(run: str, issue: str) -> list[list[str]]:
    """The pipeline commands of a workflow's ``run`` text, with its expressions filled in."""
    text = re.sub(r"\$\{\{[^}]*\}\}", issue, run)
    commands = []
    for line in text.splitlines():
        for part in line.split("|"):
            if part.strip().startswith(("newsletter ", "build-issue ")):
                commands.append(shlex.split(part.split(">")[0]))
    return commands


def test_init_then_build_the_coming_issue_with_no_edit(
    tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In an empty folder, init writes a root whose coming issue builds at once, and at its
    moment publishes with the archive and the feeds; no word of this repository's newsletter
    appears in anything it wrote or built."""
    root = tmp_path / "acme-news"
    code, out, err = cli("init", str(root), "--title", "Acme Weekly")
    assert code == 0, err
    assert err == ""
    assert f"issues/{COMING}/issue.md" in out
    for name in ("newsletter.toml", "contributors.toml", ".gitignore",
                 f"issues/{COMING}/issue.md", f"issues/{COMING}/how-to-write-a-piece.md",
                 ".github/workflows/check.yml", ".github/workflows/publish.yml"):
        assert (root / name).is_file(), name

    monkeypatch.chdir(root)
    code, out, err = cli("build-issue", COMING)  # right away (before the moment: a preview,
    assert code == 0, err                        # where the publication rules say so)
    assert "error" not in err
    assert any((root / folder / COMING / "index.html").is_file()
               for folder in ("public", "preview"))
    code, _, err = cli("check", "--strict")
    assert code == 0, err
    # At its moment the same command publishes it: the site, the archive and the feeds.
    after = next_issue(AS_OF.date(), ZoneInfo("UTC")).moment() + timedelta(hours=1)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(after.timestamp())))
    code, out, err = cli("build-issue", COMING)
    assert code == 0, err
    assert "1 piece by 1 contributor from 1 team" in out

    built = [p for folder in ("public", "feeds") for p in (root / folder).rglob("*")
             if p.is_file()]
    assert {p.name for p in built} >= {"email.html", "email.txt", "index.html", "rss.xml",
                                       "atom.xml", "feed.json"}
    for path in [*built, *(p for p in root.rglob("*") if p.is_file())]:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for words in FOREIGN:
            assert words not in text, f"{words!r} in {path.relative_to(root)}"
    page = (root / "public" / COMING / "index.html").read_text(encoding="utf-8")
    assert '<meta name="generator" content="ethics-society-pipeline 0.1.0">' in page
    assert "Made with ethics-society-pipeline 0.1.0." in page
    feed = feedparser.parse((root / "feeds" / "atom.xml").read_bytes())
    assert not feed.bozo
    assert feed.feed.title == "Acme Weekly"
    assert feed.feed.generator == "ethics-society-pipeline"


def test_the_workflows_are_yaml_whose_steps_call_commands_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each workflow parses as YAML; the pull-request one checks with --format github and
    uploads a preview; the scheduled one builds; every pipeline command in a step parses with
    the real command line and succeeds on the new root."""
    root = tmp_path / "news"
    init(root, "News", today=AS_OF.date())
    flows = _workflows(root)
    assert set(flows) == {"check.yml", "publish.yml"}
    # PyYAML reads the key 'on' as True (YAML 1.1); GitHub reads it as "on".
    triggers = {name: flow.get("on", flow.get(True)) for name, flow in flows.items()}
    assert "pull_request" in triggers["check.yml"]  # type: ignore[operator]
    assert "schedule" in triggers["publish.yml"]  # type: ignore[operator]

    monkeypatch.chdir(root)
    parser = make_parser()
    seen: dict[str, list[list[str]]] = {}
    for name, flow in flows.items():
        jobs = flow["jobs"]
        assert isinstance(jobs, dict) and jobs
        for job in jobs.values():
            steps = job["steps"]
            assert all(("run" in step) != ("uses" in step) for step in steps), steps
            for step in steps:
                for words in _commands(step.get("run", ""), COMING):
                    seen.setdefault(name, []).append(words)
                    argv = words[1:] if words[0] == "newsletter" else ["build-issue", *words[1:]]
                    parser.parse_args(argv)  # exits 2 on an unknown command or option
                    if argv[0] == "publish":  # it runs once the moment has come
                        argv.extend(["--outbox", str(tmp_path / "outbox")])
                        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int((next_issue(
                            AS_OF.date(), ZoneInfo("UTC")).moment() + timedelta(hours=1)
                        ).timestamp())))
                        monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", "a key for the test")
                    assert main(argv) == 0, (name, words, capsys.readouterr().err)
                    monkeypatch.setenv("SOURCE_DATE_EPOCH", AS_OF_EPOCH)
    uploads = [s for s in flows["check.yml"]["jobs"]["check"]["steps"]  # type: ignore[index]
               if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "preview-site/"
    assert ["newsletter", "check", COMING, "--format", "github"] in seen["check.yml"]
    assert any(w[0] == "build-issue" and "--drafts" in w for w in seen["check.yml"])
    assert any(w[:2] == ["newsletter", "publish"] and "--yes" in w for w in seen["publish.yml"])
    assert (root / "public" / COMING / "index.html").is_file()  # published at its moment
    assert (root / "preview-site" / COMING / "index.html").is_file()
    # The steps that find the coming issue run as the runner runs them (bash, this pipeline's
    # commands on PATH), at the injected moment: before the issue's moment, then after it.
    after = next_issue(AS_OF.date(), ZoneInfo("UTC")).moment() + timedelta(hours=1)
    for epoch, due in ((AS_OF_EPOCH, "false"), (str(int(after.timestamp())), "true")):
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               "SOURCE_DATE_EPOCH": epoch}
        for name, flow in flows.items():
            job = next(iter(flow["jobs"].values()))  # type: ignore[union-attr]
            [step] = [s for s in job["steps"] if s.get("id") == "coming"]
            output = tmp_path / f"{name}.{epoch}.out"
            env["GITHUB_OUTPUT"] = str(output)
            subprocess.run(["bash", "-e", "-c", step["run"]], cwd=root, env=env, check=True)
            values = dict(line.split("=", 1) for line in output.read_text().splitlines())
            assert values["issue"] == COMING, name
            assert values.get("exists", "true") == "true"
            assert values.get("due", due) == due, (name, epoch)
    assert "newsletter publish" in (root / ".github/workflows/publish.yml").read_text()


def test_every_key_of_newsletter_toml_is_there_set_or_commented(tmp_path: Path) -> None:
    """The required keys are set; every other key is a commented line that, uncommented,
    gives a valid configuration with its default (or an example where there is none)."""
    init(tmp_path, "Scratch", today=date(2027, 1, 1))
    text = (tmp_path / "newsletter.toml").read_text(encoding="utf-8")
    for option in OPTIONS:
        key = option.key.rpartition(".")[2]
        pattern = rf"^{key} = " if option.default is REQUIRED else rf"^# {key} = "
        assert re.search(pattern, text, re.M), option.key
        assert option.default is not None or option.key in EXAMPLES, option.key
    uncommented = re.sub(r"^# ([a-z_]+ = )", r"\1", text, flags=re.M)
    (tmp_path / "newsletter.toml").write_text(uncommented, encoding="utf-8")
    tomllib.loads(uncommented)
    (tmp_path / "secrets").mkdir()
    config = load_config(tmp_path)
    assert config.title == "Scratch"
    assert config.workflow.disabled_rules == ("link-text",)
    assert config.submission_lead_days == 14 and config.web.confirm_hours == 48


def test_init_never_overwrites_and_says_what_it_left_alone(tmp_path: Path, cli: RunCli) -> None:
    """In a folder that already has some of the files, those are left byte for byte and
    listed; the missing ones are written, but never an example piece into a newsletter that
    exists (its coming issue, or one already published, is real)."""
    (tmp_path / "newsletter.toml").write_text("# mine\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text("/mine/\n", encoding="utf-8")
    code, out, err = cli("init", "--root", str(tmp_path))
    assert code == 0, err
    assert (tmp_path / "newsletter.toml").read_text(encoding="utf-8") == "# mine\n"
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8") == "/mine/\n"
    assert "newsletter.toml exists: left alone" in err
    assert ".gitignore exists: left alone" in err
    assert "wrote" in out and "contributors.toml" in out
    assert not (tmp_path / "issues").exists()  # a newsletter already: no example issue
    assert "no example issue or piece was written" in err
    code, out, err = cli("init", "--root", str(tmp_path))
    assert code == 0
    assert "wrote" not in out
    assert err.count("left alone") == 5


def test_init_title_from_the_folder_and_a_bad_title(tmp_path: Path, cli: RunCli) -> None:
    """Without --title the folder's name is the title; a title with a line break is bad
    usage (exit 2) and nothing is written."""
    result = init(tmp_path / "green-team_news", None, today=date(2027, 1, 1))
    assert load_config(result.root).title == "Green Team News"
    code, _, err = cli("init", str(tmp_path / "x"), "--title", "Two\nlines")
    assert code == 2 and "one line" in err
    assert not (tmp_path / "x").exists()


def test_a_command_in_an_empty_folder_says_run_newsletter_init(
    tmp_path: Path, cli: RunCli
) -> None:
    """The first thing a new user meets says how to start."""
    code, _, err = cli("build-issue", "2027-03-equinox", "--root", str(tmp_path))
    assert code == 1
    assert "run newsletter init" in err and "Traceback" not in err


def test_this_repository_keeps_its_own_words_in_its_configuration() -> None:
    """Today's wording lives in this repository's newsletter.toml, not in the templates."""
    config = load_config(REPO)
    assert config.tagline == "Ethics is everyone's work."
    assert config.colophon == "Made with the Ethics & Society pipeline."
    for path in (REPO / "templates").iterdir():
        text = path.read_text(encoding="utf-8")
        assert "Ethics" not in text, path.name
