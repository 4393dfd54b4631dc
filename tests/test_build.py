"""build-issue end to end: what it writes, what the email contains, and what a failure leaves."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import frontmatter
import pytest

from pipeline.cli import build_issue_main
from pipeline.errors import PipelineError
from pipeline.plaintext import parse
from pipeline.writer import Output, write_all

from .conftest import RunCli, Scratch

ISSUE = "2026-12-solstice"
ATOM = "{http://www.w3.org/2005/Atom}"


def outputs(root: Path) -> dict[str, bytes]:
    """Every built file under the root (public/ and feeds/), by relative path."""
    found = {}
    for folder in ("public", "feeds"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


@pytest.fixture
def built(sample_copy: Path, cli: RunCli) -> tuple[Path, str, str]:
    code, out, err = cli("build-issue", ISSUE, "--root", str(sample_copy))
    assert code == 0, err
    return sample_copy, out, err


def test_build_issue_writes_every_output_and_lists_them(built: tuple[Path, str, str]) -> None:
    root, out, err = built
    for name in (f"public/{ISSUE}/email.html", f"public/{ISSUE}/email.txt",
                 f"public/{ISSUE}/index.html", f"public/{ISSUE}/images/training-run-energy.png",
                 "public/index.html", "public/style.css", "feeds/rss.xml", "feeds/atom.xml",
                 "feeds/feed.json"):
        assert (root / name).is_file(), name
        assert name.split("/")[-1] in out
    # the draft piece is listed as left out, with the reason, on stderr
    assert re.search(r"water-heat-and-the-data-centre-next-door\.md: note: left out: status is "
                     r"draft", err)
    assert "Water, heat" not in (root / f"public/{ISSUE}/email.html").read_text()


def test_html_email_is_built_for_inboxes(built: tuple[Path, str, str]) -> None:
    root = built[0]
    html = (root / f"public/{ISSUE}/email.html").read_text(encoding="utf-8")
    tree = parse(html)
    assert tree.iter("html")[0].attrs["lang"] == "en"
    tables = tree.iter("table")
    layout = [t for t in tables if "frame" in t.attrs.get("class", "")
              or "outer" in t.attrs.get("class", "")]
    assert len(layout) == 2 and all(t.attrs.get("role") == "presentation" for t in layout)
    assert "max-width: 600px" in layout[1].attrs["style"]
    # CSS inlined; only @media rules stay in a style block
    styles = tree.iter("style")
    assert len(styles) == 1
    css = styles[0].text()
    assert "@media (prefers-color-scheme: dark)" in css and "@media (max-width: 620px)" in css
    assert re.sub(r"@media[^{]*\{(?:[^{}]*\{[^}]*\})*[^}]*\}", "", css).strip() == ""
    assert "font-family" in tree.iter("h3")[0].attrs.get("style", "") or \
        "font-size" in tree.iter("h3")[0].attrs.get("style", "")
    # nothing remote but links and the content's images, no tracking, no scripts
    assert not tree.iter("link") and not tree.iter("script")
    assert "@import" not in html and "@font-face" not in html and "url(" not in css
    for img in tree.iter("img"):
        assert img.attrs.get("alt", "").strip(), img.attrs
        assert img.attrs["src"].startswith("https://ethics.example.org/2026-12-solstice/")
        assert img.attrs.get("width") != "1"
    # preheader: hidden, starts with the issue's summary
    hidden = [d for d in tree.iter("div") if "display:none" in d.attrs.get("style", "")]
    summary = frontmatter.load(root / f"issues/{ISSUE}/issue.md")["summary"]
    assert hidden and hidden[0].text().startswith(str(summary)[:40])
    assert "%%unsubscribe_url%%" in html
    assert len(html.encode()) < 95 * 1024


def test_email_order_and_credit(built: tuple[Path, str, str]) -> None:
    root = built[0]
    html = (root / f"public/{ISSUE}/email.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    letter = text.index("From the editors")
    sections = [html.index(f">{name}</h2>") for name in ("Research", "Practice", "Policy",
                                                         "Community")]
    letter = html.index(">From the editors</h2>")
    assert letter < sections[0] < sections[1] < sections[2] < sections[3]
    assert "Content note:" not in text  # none in this issue
    assert "AI disclosure:</strong> Drafted without AI tools" in html
    match = re.search(r"(\d+) contributors from (\d+) teams", text)
    assert match
    colophon = [td for td in parse(html).iter("td") if "colophon" in td.attrs.get("class", "")]
    items = [li.text() for li in colophon[0].iter("li")]
    names = [tuple(re.sub(r" \(.*?\)", "", item).split(" · ")) for item in items]
    assert len(names) == int(match[1])
    assert len({team for _, team in names}) == int(match[2])
    assert ("Kwame Mensah-Bonsu", "Infrastructure") in names


def test_plain_text_email_is_real_text(built: tuple[Path, str, str]) -> None:
    root = built[0]
    text = (root / f"public/{ISSUE}/email.txt").read_text(encoding="utf-8")
    assert "<" not in text.replace("<mailto", "")
    assert "December Solstice 2026: The cost of computation\n=====" in text
    assert "[Image: A bar chart comparing" in text
    assert re.search(r"^\[1\] https://example\.org/", text, re.MULTILINE)
    for line in text.splitlines():
        if len(line) > 72:
            assert "://" in line or line.startswith("    "), line


def test_web_edition_has_permalinks_and_relative_images(built: tuple[Path, str, str]) -> None:
    root = built[0]
    html = (root / f"public/{ISSUE}/index.html").read_text(encoding="utf-8")
    tree = parse(html)
    ids = {el.attrs["id"] for el in tree.iter("article") if "id" in el.attrs}
    assert {"what-a-training-run-really-costs", "datasheets-before-deployment"} <= ids
    assert 'src="images/training-run-energy.png"' in html
    assert 'href="#datasheets-before-deployment"' in html
    email = (root / f"public/{ISSUE}/email.html").read_text(encoding="utf-8")
    assert f'href="https://ethics.example.org/{ISSUE}/#datasheets-before-deployment"' in email
    archive = (root / "public/index.html").read_text(encoding="utf-8")
    assert archive.index(f'href="{ISSUE}/"') < archive.index('href="2026-09-equinox/"')


def test_size_budget_fails_the_build_and_names_the_largest_pieces(
    sample_copy: Path, cli: RunCli
) -> None:
    """With email.overflow = "refuse", an email over the budget fails the build (by default
    the last pieces become teasers: tests/test_teasers.py)."""
    config = sample_copy / "newsletter.toml"
    config.write_text(config.read_text().replace("size_budget_kb = 95",
                                                 'size_budget_kb = 20\noverflow = "refuse"'))
    code, _, err = cli("build-issue", ISSUE, "--root", str(sample_copy))
    assert code == 1
    assert re.search(r"the HTML email is \d+\.\d KB, over the 20 KB budget", err)
    assert "what-a-training-run-really-costs.md" in err or "datasheets-before-deployment.md" in err
    assert not (sample_copy / "public").exists() and not (sample_copy / "feeds").exists()


def test_a_failed_render_leaves_the_previous_outputs_intact(
    built: tuple[Path, str, str], cli: RunCli
) -> None:
    root = built[0]
    before = outputs(root)
    piece = root / f"issues/{ISSUE}/the-smallest-model-that-works.md"
    piece.write_text(piece.read_text().replace("title: ", "title: Changed "))
    template = root / "templates/issue.html"
    template.write_text(template.read_text().replace("{{ issue.title }}", "{{ issue.nope }}"))
    code, _, err = cli("build-issue", ISSUE, "--root", str(root))
    assert code == 1 and "template error" in err and "Traceback" not in err
    assert outputs(root) == before


def test_a_failed_write_leaves_the_previous_outputs_intact(
    built: tuple[Path, str, str], cli: RunCli
) -> None:
    root = built[0]
    piece = root / f"issues/{ISSUE}/the-smallest-model-that-works.md"
    piece.write_text(piece.read_text().replace("title: ", "title: Changed "))
    images = root / f"public/{ISSUE}/images"
    for image in images.iterdir():
        image.unlink()
    images.rmdir()
    images.write_text("in the way")  # staging the image now fails
    before = outputs(root)
    code, _, err = cli("build-issue", ISSUE, "--root", str(root))
    assert code == 1 and "nothing was changed" in err
    assert outputs(root) == before
    assert not [p for p in root.rglob("*.tmp")]


def test_the_writer_never_writes_outside_its_root(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="outside"):
        write_all([Output(tmp_path / "out", "../escape.txt", b"x")])
    assert not (tmp_path / "escape.txt").exists()


def test_the_same_bytes_in_two_places_are_written_once_and_linked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A feed goes to the repository and to the site: the second is a hard link to the
    first, written and flushed once; where the file system cannot link (two file systems),
    it is written again. Equal bytes that are not the same output's are written apart."""
    feed, other = b"<rss>" + b"x" * 100_000 + b"</rss>", b"<rss>" + b"x" * 100_000 + b"</rss>"
    outputs = [Output(tmp_path / "feeds", "rss.xml", feed),
               Output(tmp_path / "public", "feeds/rss.xml", feed),
               Output(tmp_path / "public", "copy.xml", other)]
    write_all(outputs)
    first, second, third = (p.stat() for p in (tmp_path / "feeds/rss.xml",
                                               tmp_path / "public/feeds/rss.xml",
                                               tmp_path / "public/copy.xml"))
    assert (first.st_ino, first.st_nlink) == (second.st_ino, 2)
    assert third.st_ino != first.st_ino and third.st_nlink == 1
    assert (tmp_path / "public/feeds/rss.xml").read_bytes() == feed
    assert oct(second.st_mode & 0o777) == "0o644"

    real = os.link

    def cannot(source: str, name: str) -> None:  # the staging's links only (not the backups)
        if str(name).endswith(".tmp"):
            raise OSError(18, "Invalid cross-device link")
        real(source, name)

    monkeypatch.setattr("os.link", cannot)
    changed = b"<rss>changed</rss>"
    written = write_all([Output(tmp_path / "feeds", "rss.xml", changed),
                         Output(tmp_path / "public", "feeds/rss.xml", changed)])
    assert [w.changed for w in written] == [True, True]
    for path in (tmp_path / "feeds/rss.xml", tmp_path / "public/feeds/rss.xml"):
        assert path.read_bytes() == changed and path.stat().st_nlink == 1
        assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert not list(tmp_path.rglob("*.tmp"))


def test_unchanged_files_are_not_rewritten(built: tuple[Path, str, str], cli: RunCli) -> None:
    root = built[0]
    email = root / f"public/{ISSUE}/email.html"
    stamp = email.stat().st_mtime_ns
    code, out, _ = cli("build-issue", ISSUE, "--root", str(root))
    assert code == 0 and "wrote" not in out
    assert email.stat().st_mtime_ns == stamp


def test_drafts_preview_marks_drafts_and_skips_feeds(sample_copy: Path, cli: RunCli) -> None:
    code, out, _ = cli("build-issue", ISSUE, "--root", str(sample_copy), "--drafts")
    assert code == 0 and "feeds not written" in out
    assert not (sample_copy / "feeds").exists()
    assert not (sample_copy / "public").exists()  # the live outputs are untouched
    html = (sample_copy / f"preview/{ISSUE}/email.html").read_text()
    assert re.search(r"DRAFT</span> Water, heat and the data centre next door", html)
    text = (sample_copy / f"preview/{ISSUE}/email.txt").read_text()
    assert "[DRAFT] Water, heat and the data centre next door" in text


def test_issue_as_a_path_and_out_dir(sample_copy: Path, cli: RunCli, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "site"
    code, _, err = cli("build-issue", str(sample_copy / "issues" / ISSUE), "--out", str(out))
    assert code == 0, err
    assert (out / ISSUE / "email.html").is_file() and (out / "index.html").is_file()
    assert not (sample_copy / "public").exists()


def test_build_issue_command_is_the_same_as_the_subcommand(
    sample_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert build_issue_main([ISSUE, "--root", str(sample_copy), "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert (sample_copy / f"public/{ISSUE}/email.txt").is_file()


def test_a_root_without_templates_uses_the_shipped_ones(scratch: Scratch, cli: RunCli) -> None:
    assert not (scratch.root / "templates").exists()
    scratch.piece("2026-09-equinox", "p", title="Hello")
    assert cli("build-issue", "2026-09-equinox", "--root", str(scratch.root))[0] == 0
    html = (scratch.root / "public/2026-09-equinox/email.html").read_text()
    assert "Scratch Weekly" in html and "Hello" in html
    # one template overridden, the others still the shipped ones
    scratch.write("templates/email.txt", "Custom text edition of {{ issue.name }}\n")
    assert cli("build-issue", "2026-09-equinox", "--root", str(scratch.root))[0] == 0
    assert (scratch.root / "public/2026-09-equinox/email.txt").read_text() == \
        "Custom text edition of September Equinox 2026\n"


def test_season_names_follow_the_configuration(scratch: Scratch, cli: RunCli) -> None:
    config = scratch.root / "newsletter.toml"
    config.write_text(config.read_text().replace('time_zone = "UTC"',
                                                 'time_zone = "UTC"\nseason_names = "southern"'))
    scratch.piece("2026-12-solstice", "p")
    assert cli("build-issue", ISSUE, "--root", str(scratch.root), "-q")[0] == 0
    assert "Summer Solstice 2026" in (scratch.root / f"public/{ISSUE}/email.txt").read_text()


def test_whole_archive_build(sample_copy: Path, cli: RunCli) -> None:
    code, _, err = cli("build", "--root", str(sample_copy))
    assert code == 0, err
    for issue_id in ("2026-09-equinox", ISSUE):
        assert (sample_copy / f"public/{issue_id}/email.html").is_file()
    assert (sample_copy / "feeds/rss.xml").is_file()


def test_an_issue_with_nothing_ready_is_an_error(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece("2026-09-equinox", "p", status="draft")
    code, _, err = cli("build-issue", "2026-09-equinox", "--root", str(scratch.root))
    assert code == 1 and "nothing to publish" in err
    assert "p.md: note: left out: status is draft" in err


def test_version_and_help(cli: RunCli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and re.match(r"newsletter \d+\.\d+", out)
    for command in ([], ["build-issue"], ["build"], ["calendar"]):
        code, out, _ = cli(*command, "--help")
        assert code == 0 and "usage:" in out
    assert cli()[0] == 2
    assert cli("build-issue")[0] == 2


def test_a_folder_in_the_way_fails_before_anything_changes(
    built: tuple[Path, str, str], cli: RunCli
) -> None:
    root = built[0]
    piece = root / f"issues/{ISSUE}/the-smallest-model-that-works.md"
    piece.write_text(piece.read_text().replace("title: ", "title: Changed "))
    (root / "public/index.html").unlink()
    (root / "public/index.html").mkdir()  # a folder where the archive page goes
    before = outputs(root)
    code, _, err = cli("build-issue", ISSUE, "--root", str(root))
    assert code == 1 and "Traceback" not in err and "nothing was changed" in err
    assert outputs(root) == before
    assert not list(root.rglob("*.tmp")) and not list(root.rglob("*.old"))


def test_a_template_mistake_is_located(sample_copy: Path, cli: RunCli) -> None:
    template = sample_copy / "templates/email.txt"
    lines = template.read_text().splitlines()
    lines.insert(2, "{{ 1 / 0 }}")
    template.write_text("\n".join(lines) + "\n")
    code, _, err = cli("build-issue", ISSUE, "--root", str(sample_copy))
    assert code == 1 and "Traceback" not in err
    assert re.search(r"templates/email\.txt:3: error: template error: ZeroDivisionError", err)


def test_an_issue_path_that_does_not_exist_is_bad_usage(
    sample_copy: Path, cli: RunCli, tmp_path: Path
) -> None:
    code, _, err = cli("build-issue", str(tmp_path / "nowhere" / ISSUE), "--root",
                       str(sample_copy))
    assert code == 2 and "no such issue folder" in err
    other = tmp_path / "other-root" / "issues" / ISSUE
    other.mkdir(parents=True)
    code, _, err = cli("build-issue", str(other), "--root", str(sample_copy))
    assert code == 2 and "pass --root" in err
    assert not (sample_copy / "public").exists()


def test_out_cannot_go_inside_the_content(sample_copy: Path, cli: RunCli) -> None:
    code, _, err = cli("build-issue", ISSUE, "--root", str(sample_copy), "--out",
                       str(sample_copy / "issues" / ISSUE / "out"))
    assert code == 2 and "cannot go inside" in err
    config = sample_copy / "newsletter.toml"
    for bad in ('"../elsewhere"', '"/tmp/x"', '"issues"', '""'):
        config.write_text(re.sub(r'output_dir = .*', f"output_dir = {bad}",
                                 config.read_text()))
        code, _, err = cli("build-issue", ISSUE, "--root", str(sample_copy))
        assert code == 1 and "'output_dir'" in err, (bad, err)


def test_contributor_links_must_be_web_addresses(sample_copy: Path, cli: RunCli) -> None:
    people = sample_copy / "contributors.toml"
    people.write_text(people.read_text().replace(
        'link = "https://example.org/people/amara-osei"',
        'link = "javascript:alert(document.cookie)"'))
    code, _, err = cli("build-issue", ISSUE, "--root", str(sample_copy))
    assert code == 1 and re.search(r"contributors\.toml:\d+: error: 'link' of \[amara-osei\]",
                                   err)


def test_remote_images_are_a_warning(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece("2026-09-equinox", "p", body="![A chart](https://tracker.example/c.png)\n")
    code, _, err = cli("build-issue", "2026-09-equinox", "--root", str(scratch.root))
    assert code == 0 and "p.md:9: warning: the image 'https://tracker.example/c.png'" in err
    code, _, err = cli("build-issue", "2026-09-equinox", "--root", str(scratch.root), "--strict")
    assert code == 1


def test_building_with_no_published_issue_writes_nothing(scratch: Scratch, cli: RunCli) -> None:
    code, _, err = cli("build", "--root", str(scratch.root))
    assert code == 1 and "nothing to build" in err
    assert not (scratch.root / "feeds").exists()


def test_all_problems_of_a_build_in_one_run(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece("2026-09-equinox", "a", title="A", status="Ready")  # bad front matter
    scratch.piece("2026-09-equinox", "b", title="B", body="[gone](missing.pdf)\n")
    code, _, err = cli("build-issue", "2026-09-equinox", "--root", str(scratch.root))
    assert code == 1
    assert "a.md:7: error: 'status' must be 'draft' or 'ready'" in err
    assert "b.md:9: error: 'missing.pdf' is not a file" in err


def test_an_image_that_is_a_symlink_loop_is_a_located_error(scratch: Scratch,
                                                            cli: RunCli) -> None:
    images = scratch.root / "issues/2026-09-equinox/images"
    images.mkdir(parents=True)
    (images / "loop.png").symlink_to("loop.png")
    scratch.piece("2026-09-equinox", "p", body="![A loop](images/loop.png)\n")
    code, _, err = cli("build-issue", "2026-09-equinox", "--root", str(scratch.root))
    assert code == 1 and "Traceback" not in err and "Exception ignored" not in err
    assert "p.md:9: error: 'images/loop.png'" in err


def test_corrections_show_on_the_web_and_update_the_feeds(sample_copy: Path, cli: RunCli) -> None:
    assert cli("build-issue", ISSUE, "--root", str(sample_copy), "-q")[0] == 0
    web = (sample_copy / "public/2026-09-equinox/index.html")
    assert web.exists()  # the archive links it, so the site has it too
    assert cli("build-issue", "2026-09-equinox", "--root", str(sample_copy), "-q")[0] == 0
    html = web.read_text(encoding="utf-8")
    assert re.search(r'<time datetime="2026-10-05">5 October 2026</time>: An earlier version '
                     r"said support tickets", html)
    atom = ET.fromstring((sample_copy / "feeds/atom.xml").read_bytes())
    entries = {e.findtext(f"{ATOM}id"): e for e in atom.findall(f"{ATOM}entry")}
    september = entries["https://ethics.example.org/2026-09-equinox/"]
    # the London day of the correction, after the equinox: the entry says it changed
    assert september.findtext(f"{ATOM}updated") == "2026-10-04T23:00:00Z"
    assert september.findtext(f"{ATOM}published", "").startswith("2026-09-23")


def test_bad_corrections_are_located_errors(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece("2026-09-equinox", "p", corrections="[{date: 10 October, text: Fixed.}]")
    code, _, err = cli("build-issue", "2026-09-equinox", "--root", str(scratch.root))
    assert code == 1 and "p.md:8: error: 'corrections' has the date '10 October'" in err


def test_every_piece_invites_a_response(sample_copy: Path, cli: RunCli) -> None:
    assert cli("build-issue", ISSUE, "--root", str(sample_copy), "-q")[0] == 0
    subject = "December%20Solstice%202026%3A%20Datasheets%20before%20deployment"
    for name in ("email.html", "index.html"):
        html = (sample_copy / f"public/{ISSUE}/{name}").read_text(encoding="utf-8")
        assert f'href="mailto:ethics-editors@example.org?subject={subject}"' in html, name
        assert html.count("Respond to this piece or raise a concern") == 6, name
    text = (sample_copy / f"public/{ISSUE}/email.txt").read_text(encoding="utf-8")
    assert text.count("Respond to this piece or raise a concern") == 6


@pytest.mark.parametrize("command", ["build-issue", "build"])
def test_a_build_reads_its_command_line_without_the_other_commands(command: str) -> None:
    """A build's command line is read as the full parser reads it (--root's value that names
    a command is only a value), and makes only the build's parser: no module of another
    command (the editorial workflow, the web, delivery) is imported."""
    script = ("import sys\nfrom pipeline.cli import main\ntry:\n"
              f"    main(['--root', 'build', '-q', {command!r}, '--help'])\n"
              "except SystemExit:\n    pass\n"
              "print(sorted(m for m in sys.modules if m.startswith('pipeline.')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    help_text, _, imported = done.stdout.rstrip("\n").rpartition("\n")
    assert f"usage: newsletter {command} " in help_text and "--no-cache" in help_text
    modules = set(ast.literal_eval(imported))
    commands = {m for m in modules if m.startswith("pipeline.commands.")}
    assert commands <= {"pipeline.commands.options", "pipeline.commands.build_issue",
                        f"pipeline.commands.{command.replace('-', '_')}"}, commands
    assert not modules & {"pipeline.check", "pipeline.status", "pipeline.web",
                          "pipeline.preview", "pipeline.send", "pipeline.delivery",
                          "pipeline.gather"}


def test_a_piece_of_several_teams_credits_each_author_with_their_team(
    scratch: Scratch, cli: RunCli
) -> None:
    """Shared work is credited to every team: authors from two teams each get their own in
    the byline (HTML, plain text, feeds); authors of one team keep "· Team"."""
    scratch.write("contributors.toml", '[lin]\nname = "Lin Example"\nteam = "Research"\n\n'
                  '[ada]\nname = "Ada Example"\nteam = "Legal"\n\n'
                  '[kim]\nname = "Kim Example"\nteam = "Legal"\n')
    scratch.piece(ISSUE, "shared", title="Shared", authors="[lin, ada]", team=None)
    scratch.piece(ISSUE, "legal", title="Legal only", authors="[ada, kim]", team=None)
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    page = (scratch.root / f"public/{ISSUE}/index.html").read_text(encoding="utf-8")
    assert "By Lin Example (Research) and Ada Example (Legal)</p>" in page
    assert "By Ada Example and Kim Example · Legal</p>" in page
    text = (scratch.root / f"public/{ISSUE}/email.txt").read_text(encoding="utf-8")
    assert "By Lin Example (Research) and Ada Example (Legal)" in text
    assert "By Ada Example and Kim Example (Legal)" in text
    feed = (scratch.root / "feeds/feed.json").read_text(encoding="utf-8")
    assert "By Lin Example (Research) and Ada Example (Legal)" in feed
