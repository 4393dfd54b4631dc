"""The publication moment in the builds: before it an issue is only a preview, at it the site
and the feeds get it, and the site folder deploys alone.

The clock is SOURCE_DATE_EPOCH: 6 December 2026 is before the December solstice (21 December
2026, 20:50 UTC), 23 December after it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import pytest

from pipeline.publication import RECORD_NAME, load_record
from pipeline.render import UNSUBSCRIBE_PLACEHOLDER
from pipeline.seasons import IssueId

from .conftest import RunCli

ISSUE = "2026-12-solstice"
OLDER = "2026-09-equinox"
BEFORE = "1796544000"  # 2026-12-06 08:00 UTC
AFTER = "1798016400"  # 2026-12-23 09:00 UTC
BASE = "https://ethics.example.org"


def tree(root: Path, *folders: str) -> dict[str, bytes]:
    """Every file under the given folders of ``root``, by relative path."""
    found = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


@pytest.fixture
def before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", BEFORE)


@pytest.fixture
def site_before(sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample newsletter on 6 December: the September issue is in the site."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", BEFORE)
    code, _, err = cli("build", "--root", str(sample_copy))
    assert code == 0, err
    return sample_copy


def test_before_its_moment_build_issue_is_a_preview(site_before: Path, cli: RunCli) -> None:
    """Nothing of the issue reaches the site folder, the archive or the feeds; the preview has
    no drafts unless asked; the output says when the issue will be published."""
    root = site_before
    site = tree(root, "public", "feeds")
    code, out, err = cli("build-issue", ISSUE, "--root", str(root))
    assert code == 0, err
    assert tree(root, "public", "feeds") == site
    assert not (root / "public" / ISSUE).exists() and not (root / RECORD_NAME).exists()
    assert ISSUE not in (root / "public/index.html").read_text(encoding="utf-8")
    assert "preview only: 2026-12-solstice is published at its moment, Monday 21 December "\
           "2026 at 20:50 (Europe/London), in 15 days" in out
    assert "newsletter publish 2026-12-solstice" in out and "--early" in out
    preview = (root / f"preview/{ISSUE}/index.html").read_text(encoding="utf-8")
    assert "Water, heat" not in preview and "DRAFT" not in preview
    code, out, _ = cli("build-issue", ISSUE, "--root", str(root), "--drafts")
    assert code == 0 and tree(root, "public", "feeds") == site
    assert "Water, heat" in (root / f"preview/{ISSUE}/index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("inside", ["public", "public/drafts"])
def test_a_preview_never_goes_into_the_site_folder(site_before: Path, cli: RunCli,
                                                   inside: str) -> None:
    site = tree(site_before, "public")
    code, _, err = cli("build-issue", ISSUE, "--root", str(site_before), "--out",
                       str(site_before / inside))
    assert code == 2 and "a preview never goes into the site folder" in err
    assert tree(site_before, "public") == site


def test_build_and_build_issue_agree_and_a_rebuild_leaves_no_unpublished_folder(
    site_before: Path, cli: RunCli
) -> None:
    """A folder of an issue that is not published (left by an older build) is taken off the
    site by either build; both publish the same issues."""
    root = site_before
    stale = root / "public" / ISSUE
    stale.mkdir()
    (stale / "index.html").write_text("two weeks early", encoding="utf-8")
    code, out, _ = cli("build-issue", OLDER, "--root", str(root))
    assert code == 0 and not stale.exists() and f"removed public/{ISSUE}/" in out.replace(
        str(root) + "/", "")
    after_issue = sorted(p.name for p in (root / "public").iterdir())
    stale.mkdir()
    code, _, err = cli("build", "--root", str(root))
    assert code == 0 and not stale.exists()
    assert "not published yet (its moment is 2026-12-21 20:50 UTC)" in err
    assert sorted(p.name for p in (root / "public").iterdir()) == after_issue
    assert OLDER in after_issue and ISSUE not in after_issue


def test_early_publishes_now_records_it_and_says_so(site_before: Path, cli: RunCli) -> None:
    root = site_before
    code, out, err = cli("build-issue", ISSUE, "--root", str(root), "--early")
    assert code == 0, err
    assert "published 2026-12-solstice early, before its moment (Monday 21 December 2026" in out
    assert load_record(root) == {IssueId.parse(ISSUE): datetime(2026, 12, 6, 8, tzinfo=UTC)}
    assert (root / "public" / ISSUE / "index.html").is_file()
    page = (root / "public" / ISSUE / "index.html").read_text(encoding="utf-8")
    assert '<time datetime="2026-12-06T08:00:00+00:00">Sunday 6 December 2026</time>' in page
    feed = feedparser.parse((root / "feeds/atom.xml").read_bytes())
    assert not feed.bozo and feed.entries[0].link == f"{BASE}/{ISSUE}/"
    assert feed.entries[0].published == "2026-12-06T08:00:00Z"
    # the whole-archive build agrees: the recorded issue stays in the site
    code, _, _ = cli("build", "--root", str(root))
    assert code == 0 and (root / "public" / ISSUE / "index.html").is_file()
    # a second --early changes nothing: the first publication is the one recorded
    record = (root / RECORD_NAME).read_bytes()
    code, out, _ = cli("build-issue", ISSUE, "--root", str(root), "--early")
    assert code == 0 and "early" not in out and (root / RECORD_NAME).read_bytes() == record


def test_a_late_publication_is_the_date_readers_see(sample_copy: Path, cli: RunCli) -> None:
    """Published on 23 December, two days after the solstice: the web edition, the email,
    the archive and the feeds all say so; no feed date is in the future."""
    (sample_copy / RECORD_NAME).write_text(f"{ISSUE} = 2026-12-23T09:00:00Z\n",
                                           encoding="utf-8")
    code, _, err = cli("build-issue", ISSUE, "--root", str(sample_copy))
    assert code == 0, err
    public = sample_copy / "public"
    page = (public / ISSUE / "index.html").read_text(encoding="utf-8")
    assert '<time datetime="2026-12-23T09:00:00+00:00">Wednesday 23 December 2026</time>' in page
    assert "Wednesday 23 December 2026" in (public / ISSUE / "email.html").read_text("utf-8")
    assert "Wednesday 23 December 2026" in (public / "index.html").read_text("utf-8")
    items = json.loads((public / "feeds/feed.json").read_bytes())["items"]
    assert items[0]["date_published"] == "2026-12-23T09:00:00Z"
    as_of = datetime(2027, 1, 1, tzinfo=UTC)
    for item in items:
        for key in ("date_published", "date_modified"):
            assert datetime.fromisoformat(item[key]) <= as_of, (item["id"], key)
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse((public / "feeds" / name).read_bytes())
        assert not parsed.bozo, name
        for entry in parsed.entries:
            stamps = [entry.published_parsed]
            stamps += [entry.updated_parsed] if name == "atom.xml" else []
            for stamp in stamps:
                assert datetime(*stamp[:6], tzinfo=UTC) <= as_of, (name, entry.title)


def test_a_correction_dated_in_the_future_is_not_a_future_feed_date(
    sample_copy: Path, cli: RunCli
) -> None:
    piece = sample_copy / f"issues/{ISSUE}/the-smallest-model-that-works.md"
    piece.write_text(piece.read_text(encoding="utf-8").replace(
        "status: ready", "status: ready\ncorrections:\n  - date: 2027-03-01\n    text: Fixed.",
        1), encoding="utf-8")
    assert cli("build-issue", ISSUE, "--root", str(sample_copy), "-q")[0] == 0
    atom = feedparser.parse((sample_copy / "feeds/atom.xml").read_bytes())
    assert atom.entries[0].updated == "2027-01-01T00:00:00Z"  # now, not 1 March


@pytest.mark.parametrize(("text", "message"), [
    ("2026-12-solstise = 2026-12-23T09:00:00Z\n", "published.toml:1: error: '2026-12-solstise'"),
    ("# a comment\n2026-12-solstice = 2026-12-23\n", "published.toml:2: error: "
                                                     "'2026-12-solstice' must be a date and time"),
    ("2026-12-solstice = \n", "published.toml:1: error: TOML syntax error"),
])
def test_a_mistake_in_the_record_is_located(sample_copy: Path, cli: RunCli, text: str,
                                            message: str, monkeypatch: pytest.MonkeyPatch,
                                            ) -> None:
    monkeypatch.chdir(sample_copy)
    (sample_copy / RECORD_NAME).write_text(text, encoding="utf-8")
    code, _, err = cli("build-issue", ISSUE)
    assert code == 1 and message in err and "Traceback" not in err
    assert not (sample_copy / "public").exists()


# ---------------------------------------------------------------------- the site deploys alone


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


#: Pages of the subscription web app (`newsletter serve`), not files of the site.
APP_PAGES = ("/subscribe", "/confirm", "/unsubscribe")


def local_links(site: Path) -> list[tuple[str, str, Path]]:
    """(page, link, the file it must find) for every link of every page of the site that
    points into the site itself (relative, or absolute under base_url)."""
    found = []
    for page in sorted(site.rglob("*.html")):
        url = f"{BASE}/{page.relative_to(site).as_posix()}"
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for link in parser.links:
            if link == UNSUBSCRIBE_PLACEHOLDER:  # each subscriber's own link, put in by send
                continue
            target = urlsplit(urljoin(url, link))
            if f"{target.scheme}://{target.netloc}" != BASE or target.path in APP_PAGES:
                continue
            path = site / unquote(target.path).lstrip("/")
            found.append((page.relative_to(site).as_posix(), link,
                          path / "index.html" if target.path.endswith("/") else path))
    return found


def test_every_local_link_of_the_site_lands_inside_it(sample_copy: Path, cli: RunCli) -> None:
    """After the Quick start's one build-issue, a static host serving public/ alone answers
    every link of every page: issues, images, style, feeds (also in feeds/ of the root)."""
    code, _, err = cli("build-issue", ISSUE, "--root", str(sample_copy))
    assert code == 0, err
    site = sample_copy / "public"
    links = local_links(site)
    assert {link for _, link, _ in links} >= {
        f"{OLDER}/", f"{BASE}/feeds/rss.xml", f"{BASE}/feeds/atom.xml",
        f"{BASE}/feeds/feed.json", "style.css", "images/training-run-energy.png"}
    missing = [(page, link) for page, link, path in links if not path.is_file()]
    assert not missing, missing
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert (site / "feeds" / name).read_bytes() == (sample_copy / "feeds" / name).read_bytes()
    assert {"robots.txt", "ai.txt", "style.css", "index.html"} <= {
        p.name for p in site.iterdir()}


def test_the_link_walk_finds_a_missing_target(sample_copy: Path, cli: RunCli) -> None:
    """The walk above can fail: a removed image is reported with the page that links it."""
    assert cli("build-issue", ISSUE, "--root", str(sample_copy), "-q")[0] == 0
    site = sample_copy / "public"
    (site / ISSUE / "images/training-run-energy.png").unlink()
    missing = [(page, link) for page, link, path in local_links(site) if not path.is_file()]
    assert (f"{ISSUE}/index.html", "images/training-run-energy.png") in missing
    assert all(re.match(r"2026-12-solstice/", page) for page, _ in missing)


def test_the_report_asks_the_same_rule(site_before: Path, cli: RunCli) -> None:
    """An issue published early is published for the report too."""
    code, out, _ = cli("report", "--root", str(site_before))
    assert code == 0 and "2026-12-solstice *" in out and "* not published yet" in out
    assert cli("build-issue", ISSUE, "--root", str(site_before), "--early", "-q")[0] == 0
    code, out, _ = cli("report", "--root", str(site_before))
    assert code == 0 and "2026-12-solstice *" not in out and "not published yet" not in out
