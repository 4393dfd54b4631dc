"""``newsletter gather ISSUE``: feeds (local files and a local HTTP server) to a reading list."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import frontmatter
import pytest

from pipeline import feeds_fetch, feeds_in, gather
from pipeline.seasons import IssueId

from .conftest import RunCli, Scratch

ISSUE = "2026-12-solstice"
START = IssueId(2026, 9).moment()  # 2026-09-23 00:05 UTC: the previous issue's moment
END = IssueId(2026, 12).moment()  # 2026-12-21 20:50 UTC: this issue's moment
INSIDE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

Item = tuple[str, str, datetime | None, str]  # title, link, published, HTML summary


def rss(title: str, items: list[Item]) -> str:
    parts = []
    for name, link, when, summary in items:
        date = f"<pubDate>{format_datetime(when)}</pubDate>" if when else ""
        parts.append(f"<item><title>{escape(name)}</title><link>{escape(link)}</link>{date}"
                     f"<description>{escape(summary)}</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>https://example.org/</link>"
            f"<description>A feed</description>{''.join(parts)}</channel></rss>\n")


def atom(title: str, items: list[Item]) -> str:
    parts = []
    for n, (name, link, when, summary) in enumerate(items):
        date = f"<updated>{when.isoformat()}</updated>" if when else ""
        parts.append(f'<entry><title>{escape(name)}</title><link href="{escape(link)}"/>'
                     f"<id>urn:example:{n}</id>{date}"
                     f'<summary type="html">{escape(summary)}</summary></entry>')
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>urn:example:feed</id>"
            f"<updated>{END.isoformat()}</updated>{''.join(parts)}</feed>\n")


ISSUE_MD = """\
---
title: The cost of computation
editors: [Ada Example, Grace Example]
---
Welcome.
"""

BLOG = rss("Organisation blog", [
    ("Energy budgets for models", "https://blog.example.org/energy/", INSIDE,
     "<p>How we <b>measured</b> it.</p><p>And what it cost.</p>"),
    ("An old post", "https://blog.example.org/old", START - timedelta(days=3), "Before."),
    ("From the future", "https://blog.example.org/next", END + timedelta(days=1), "After."),
    ("Right at the start", "https://blog.example.org/start", START, "Kept: inclusive."),
    ("Right at the moment", "https://blog.example.org/moment", END, "Left for next time."),
    ("No date at all", "https://blog.example.org/undated", None, "Cannot be placed."),
    ("Not a web link", "javascript:alert(1)", INSIDE, "Skipped."),
])
TEAM = atom("Policy team", [
    # The same post as the blog's, with a fragment and no trailing slash: a duplicate.
    ("Energy budgets (team copy)", "https://BLOG.example.org/energy#top", INSIDE,
     "Duplicate."),
    ("Consent, revisited", "https://policy.example.org/consent",
     datetime(2026, 12, 1, 12, 0, tzinfo=UTC), "<script>alert(1)</script>Why it matters."),
    ("Last before the issue", "https://policy.example.org/last",
     END - timedelta(seconds=1), "Just in time."),
])


def setup(scratch: Scratch, feeds: list[str] | None = None, timeout: int = 1,
          private: bool = False) -> Path:
    scratch.write(f"issues/{ISSUE}/issue.md", ISSUE_MD)
    scratch.write("feeds-in/blog.xml", BLOG)
    scratch.write("feeds-in/team.atom", TEAM)
    listed = feeds if feeds is not None else ["feeds-in/blog.xml", "feeds-in/team.atom"]
    config = scratch.root / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[gather]\nfeeds = ["
                      + ", ".join(f'"{f}"' for f in listed) + f"]\ntimeout_seconds = {timeout}\n"
                      + ("allow_private = true\n" if private else ""),
                      encoding="utf-8")
    return scratch.root / "issues" / ISSUE / gather.READING_LIST


def links(text: str) -> list[str]:
    return [line.split("](", 1)[1].split(")", 1)[0] for line in text.splitlines()
            if line.startswith("- **[")]


# --------------------------------------------------------------------------- local files


def test_gathers_local_feeds_into_a_draft_reading_list(scratch: Scratch, cli: RunCli) -> None:
    target = setup(scratch)
    code, out, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    assert "Traceback" not in err
    text = target.read_text(encoding="utf-8")
    # Kept: in the window [previous moment, this moment), once per link, newest first per source.
    assert links(text) == [
        "https://blog.example.org/energy/",
        "https://blog.example.org/start",
        "https://policy.example.org/last",
        "https://policy.example.org/consent",
    ]
    for left_out in ("old", "next", "moment", "undated", "javascript"):
        assert left_out not in "".join(links(text))
    assert "team copy" not in text
    assert "## Organisation blog" in text and "## Policy team" in text
    assert text.index("## Organisation blog") < text.index("## Policy team")
    assert "How we measured it. And what it cost." in text
    assert "alert" not in text and "Why it matters." in text
    assert "wrote " in out and "reading-list.md" in out
    assert "4 entries from 2 of 2 feeds" in out
    assert "1 duplicate removed" in out


def test_the_reading_list_has_valid_front_matter(scratch: Scratch, cli: RunCli) -> None:
    target = setup(scratch)
    assert cli("gather", ISSUE, "--root", str(scratch.root))[0] == 0
    meta = frontmatter.loads(target.read_text(encoding="utf-8")).metadata
    assert meta["title"] == "Reading list"
    assert meta["status"] == "draft"
    assert meta["authors"] == ["Ada Example", "Grace Example"]  # the issue's editors
    assert meta["section"] == "Practice"  # the last configured section
    assert "4 pieces from 2 sources" in str(meta["summary"])


def test_a_drafts_build_accepts_and_shows_the_reading_list(scratch: Scratch,
                                                          cli: RunCli) -> None:
    setup(scratch)
    assert cli("gather", ISSUE, "--root", str(scratch.root))[0] == 0
    code, _, err = cli("build-issue", ISSUE, "--drafts", "--root", str(scratch.root))
    assert code == 0, err
    assert " error:" not in err
    page = (scratch.root / "preview" / ISSUE / "index.html").read_text(encoding="utf-8")
    assert "Reading list" in page
    assert 'href="https://blog.example.org/energy/"' in page
    assert "Energy budgets for models" in page


def test_without_drafts_the_reading_list_is_left_out(scratch: Scratch, cli: RunCli) -> None:
    setup(scratch)
    scratch.piece(ISSUE, "a-ready-piece", title="A ready piece")
    assert cli("gather", ISSUE, "--root", str(scratch.root))[0] == 0
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    assert "reading-list.md" in err and "draft" in err
    page = (scratch.root / "public" / ISSUE / "index.html").read_text(encoding="utf-8")
    assert "Reading list" not in page


def test_author_and_section_options(scratch: Scratch, cli: RunCli) -> None:
    target = setup(scratch)
    code, _, err = cli("gather", ISSUE, "--root", str(scratch.root), "--author",
                       "Lin: the editor", "--author", "O'Brien", "--section", "Research")
    assert code == 0, err
    meta = frontmatter.loads(target.read_text(encoding="utf-8")).metadata
    assert meta["authors"] == ["Lin: the editor", "O'Brien"]
    assert meta["section"] == "Research"


def test_second_run_refuses_to_overwrite_without_force(scratch: Scratch, cli: RunCli) -> None:
    target = setup(scratch)
    assert cli("gather", ISSUE, "--root", str(scratch.root))[0] == 0
    target.write_text(target.read_text(encoding="utf-8") + "\nCurated by hand.\n",
                      encoding="utf-8")
    curated = target.read_bytes()
    code, out, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 1
    assert "already exists" in err and "--force" in err
    assert "Traceback" not in err and "wrote" not in out
    assert target.read_bytes() == curated
    code, _, err = cli("gather", ISSUE, "--root", str(scratch.root), "--force")
    assert code == 0, err
    assert b"Curated by hand." not in target.read_bytes()


def test_feed_option_replaces_the_configured_feeds(scratch: Scratch, cli: RunCli,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    target = setup(scratch)
    monkeypatch.chdir(scratch.root)  # a --feed file is relative to the current folder
    code, out, err = cli("gather", ISSUE, "--root", ".", "--feed", "feeds-in/team.atom")
    assert code == 0, err
    assert "from 1 of 1 feed" in out
    # Alone, the team's copy of the blog post is no duplicate.
    assert links(target.read_text(encoding="utf-8")) == [
        "https://policy.example.org/last", "https://policy.example.org/consent",
        "https://BLOG.example.org/energy#top"]


def test_missing_and_malformed_files_are_warned_about_and_skipped(scratch: Scratch,
                                                                  cli: RunCli) -> None:
    target = setup(scratch, ["feeds-in/blog.xml", "feeds-in/gone.xml", "feeds-in/broken.xml",
                             "feeds-in/page.html"])
    scratch.write("feeds-in/broken.xml", "<?xml version='1.0'?>\n<rss><channel><title>x\n"
                  "<item><title>Half</item>\n")
    scratch.write("feeds-in/page.html", "<!doctype html><html><body><p>Hello</p></body></html>")
    code, out, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    assert "Traceback" not in err
    warnings = [line for line in err.splitlines() if ": warning: " in line]
    assert len(warnings) == 3
    assert any("gone.xml" in w and "no such file" in w for w in warnings)
    assert any("broken.xml" in w and "malformed" in w for w in warnings)
    assert any("page.html" in w and "not an RSS or Atom feed" in w for w in warnings)
    assert "from 1 of 4 feeds" in out
    assert links(target.read_text(encoding="utf-8"))[0] == "https://blog.example.org/energy/"


def test_a_partly_malformed_feed_still_counts(scratch: Scratch, cli: RunCli) -> None:
    good = rss("Half good", [("Readable", "https://half.example.org/a", INSIDE, "Fine.")])
    target = setup(scratch, ["feeds-in/half.xml"])
    scratch.write("feeds-in/half.xml", good.replace("</channel></rss>", "<item><title>Cut"))
    code, _, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    assert "half.xml" in err and "malformed" in err and "note:" in err
    assert links(target.read_text(encoding="utf-8")) == ["https://half.example.org/a"]


def test_when_every_feed_fails_nothing_is_written(scratch: Scratch, cli: RunCli) -> None:
    target = setup(scratch, ["feeds-in/gone.xml", "feeds-in/also-gone.xml"])
    code, out, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 1
    assert "none of the 2 feeds could be read" in err
    assert "gone.xml" in err and "also-gone.xml" in err
    assert "Traceback" not in err and "wrote" not in out
    assert not target.exists()


def test_nothing_in_the_window_writes_nothing(scratch: Scratch, cli: RunCli) -> None:
    target = setup(scratch, ["feeds-in/old.xml"])
    scratch.write("feeds-in/old.xml", rss("Old", [
        ("Ancient", "https://old.example.org/a", START - timedelta(days=100), "Old.")]))
    code, out, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    assert "nothing to gather" in out and "1 outside" in out
    assert not target.exists()


def test_a_coming_issue_gets_a_note_to_gather_again(scratch: Scratch, cli: RunCli) -> None:
    setup(scratch)
    scratch.write("issues/2027-03-equinox/issue.md", ISSUE_MD)
    scratch.write("feeds-in/soon.xml", rss("Soon", [
        ("Fresh", "https://soon.example.org/a", END + timedelta(days=3), "New.")]))
    code, out, err = cli("gather", "2027-03-equinox", "--root", str(scratch.root),
                         "--feed", str(scratch.root / "feeds-in/soon.xml"))
    assert code == 0, err
    assert "still to come" in err  # the tests run as of 2027-01-01
    assert "1 entry from 1 of 1 feed" in out
    assert (scratch.root / "issues/2027-03-equinox/reading-list.md").is_file()


def test_markdown_in_entries_is_shown_as_text(scratch: Scratch, cli: RunCli) -> None:
    setup(scratch, ["feeds-in/tricky.xml"])
    scratch.write("feeds-in/tricky.xml", rss("Tricky *feed* #1", [
        ("Use <script> and *stars* [brackets]", "https://x.example.org/a (b)", INSIDE,
         "&lt;img src=x onerror=alert(1)&gt; 5 > 3 & {: #id} `code`"),
    ]))
    assert cli("gather", ISSUE, "--root", str(scratch.root))[0] == 0
    code, _, err = cli("build-issue", ISSUE, "--drafts", "--root", str(scratch.root))
    assert code == 0, err
    page = (scratch.root / "preview" / ISSUE / "index.html").read_text(encoding="utf-8")
    assert "Use &lt;script&gt; and *stars* [brackets]" in page
    assert 'href="https://x.example.org/a%20%28b%29"' in page
    assert "Tricky *feed* #1" in page
    assert ("(2 November 2026): &lt;img src=x onerror=alert(1)&gt; 5 &gt; 3 &amp; {: #id} "
            "`code`</li>") in page
    assert "<script" not in page and "<img src=x" not in page


def test_usage_errors_are_clear(scratch: Scratch, cli: RunCli) -> None:
    setup(scratch, [])
    root = str(scratch.root)
    code, _, err = cli("gather", ISSUE, "--root", root)
    assert code == 2 and "no feeds to read" in err
    # The folder the README uses for incoming feeds, not feeds/ (where the pipeline writes).
    assert '"feeds-in/team.xml"' in err and "feeds/team.xml" not in err
    code, _, err = cli("gather", "2026-11-solstice", "--root", root, "--feed", "x.xml")
    assert code == 2 and "2026-12-solstice" in err
    code, _, err = cli("gather", ISSUE, "--root", root, "--feed", "x.xml", "--section", "Resarch")
    assert code == 2 and "did you mean 'Research'" in err
    code, _, err = cli("gather", ISSUE, "--root", root, "--timeout", "0")
    assert code == 2 and "--timeout" in err
    assert "Traceback" not in err


def test_without_editors_an_author_is_asked_for(scratch: Scratch, cli: RunCli) -> None:
    setup(scratch)
    code, _, err = cli("gather", "2027-03-equinox", "--root", str(scratch.root))
    assert code == 1
    assert "--author NAME" in err and "issue.md" in err
    assert not (scratch.root / "issues/2027-03-equinox").exists()


def test_the_sample_newsletter_gathers_and_builds(sample_copy: Path, cli: RunCli,
                                                  tmp_path: Path) -> None:
    feed = tmp_path / "blog.xml"
    feed.write_text(BLOG, encoding="utf-8")
    code, _, err = cli("gather", ISSUE, "--root", str(sample_copy), "--feed", str(feed))
    assert code == 0, err
    meta = frontmatter.loads(
        (sample_copy / "issues" / ISSUE / "reading-list.md").read_text(encoding="utf-8"))
    assert meta["section"] == "Community"
    assert meta["authors"] == ["Yuki Tanabe", "Kwame Mensah-Bonsu"]
    code, _, err = cli("build-issue", ISSUE, "--drafts", "--root", str(sample_copy))
    assert code == 0, err
    page = (sample_copy / "preview" / ISSUE / "index.html").read_text(encoding="utf-8")
    assert "Reading list" in page and "Energy budgets for models" in page


# --------------------------------------------------------------------------- pure parts


def test_normal_link_ignores_fragment_trailing_slash_and_host_case() -> None:
    assert feeds_in.normal_link("https://Blog.Example.org/a/#x") == \
        feeds_in.normal_link("https://blog.example.org/a")
    assert feeds_in.normal_link("https://x.org/a?p=1") != feeds_in.normal_link("https://x.org/a?p=2")


def test_select_window_is_from_the_previous_moment_to_this_one() -> None:
    def entry(link: str, when: datetime, feed: int = 0) -> feeds_in.Entry:
        return feeds_in.Entry(link, link, "", when, "src", feed)

    source = feeds_fetch.Source("f")
    feeds = [
        feeds_in.Feed(source, "a", (entry("https://a/1", START), entry("https://a/2", END),
                                  entry("https://a/3", END - timedelta(seconds=1)))),
        feeds_in.Feed(source, "b", (entry("https://a/1/", INSIDE, 1),)),
    ]
    chosen = gather.select(feeds, START, END)
    assert [e.link for e in chosen.entries] == ["https://a/3", "https://a/1"]
    assert chosen.entries[1].feed == 0  # the first-listed feed keeps a shared link
    assert chosen.duplicates == 1 and chosen.outside == 1


def test_plain_text_strips_html_with_a_parser() -> None:
    assert feeds_in.plain_text("<p>One</p><p>Two &amp; <em>three</em></p>") == "One Two & three"
    assert feeds_in.plain_text("<style>p{}</style><script>x()</script>Text") == "Text"
    assert feeds_in.plain_text("a &lt;b&gt; c") == "a <b> c"


def test_summaries_are_shortened_at_a_word() -> None:
    text = "word " * 100
    short = feeds_in.shorten(text.strip())
    assert len(short) <= feeds_in.SUMMARY_LENGTH
    assert short.endswith("word\u2026")
    assert feeds_in.shorten("short") == "short"


def test_yaml_values_round_trip() -> None:
    import yaml

    for value in ("Reading list", "Lin: the editor", "#1 fan", "yes", "'quoted'"):
        assert yaml.safe_load(f"k: {gather.yaml_value(value)}") == {"k": value}
    names = ["O'Brien", "A, B", "[x]"]
    assert yaml.safe_load(f"k: {gather.yaml_value(names)}") == {"k": names}


# --------------------------------------------------------------------------- over HTTP


class _Handler(BaseHTTPRequestHandler):
    server: _FeedServer

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        if self.path == "/slow.xml":
            # Never answers within the client's timeout; released when the test ends.
            self.server.release.wait(10)
            return
        if self.path == "/trickle.xml":
            # Answers at once, then sends a byte every 0.2 s: never idle for a whole timeout.
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            for _ in range(60):
                if self.server.release.wait(0.2):
                    return
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
            return
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/redirect?to="))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        routes = {
            "/good.xml": (200, "application/rss+xml", rss("Good server feed", [
                ("Served over HTTP", "/posts/served", INSIDE, "From the server."),
                ("Also served", "https://served.example.org/also",
                 INSIDE + timedelta(days=1), "Another."),
            ]).encode()),
            "/bad.xml": (200, "application/rss+xml", b"<rss><channel><title>Broken</title>"
                         b"<item><title>x</item></channel"),
            "/error.xml": (500, "text/plain", b"Internal error"),
        }
        status, kind, body = routes.get(self.path, (404, "text/plain", b"Not found"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _FeedServer(ThreadingHTTPServer):
    daemon_threads = True
    release: threading.Event
    hits: list[str]


_SERVERS: dict[str, _FeedServer] = {}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    httpd = _FeedServer(("127.0.0.1", 0), _Handler)
    httpd.release = threading.Event()
    httpd.hits = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    _SERVERS[url] = httpd
    try:
        yield url
    finally:
        del _SERVERS[url]
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_http_feeds_good_bad_down_and_slow(scratch: Scratch, cli: RunCli, server: str) -> None:
    target = setup(scratch, [f"{server}/good.xml", f"{server}/bad.xml", f"{server}/error.xml",
                             f"{server}/slow.xml", f"{server}/missing.xml"], timeout=1,
                   private=True)
    started = time.monotonic()
    code, out, err = cli("gather", ISSUE, "--root", str(scratch.root))
    elapsed = time.monotonic() - started
    assert code == 0, err
    assert elapsed < 5  # the slow feed costs its timeout, not the test's patience
    assert "Traceback" not in err
    warnings = {line for line in err.splitlines() if line.startswith("warning: ")}
    assert len(warnings) == 4
    assert any(f"{server}/bad.xml" in w and "malformed" in w for w in warnings)
    assert any(f"{server}/error.xml" in w and "HTTP 500" in w for w in warnings)
    assert any(f"{server}/slow.xml" in w and "no answer within 1 s" in w for w in warnings)
    assert any(f"{server}/missing.xml" in w and "HTTP 404" in w for w in warnings)
    assert not any("good.xml" in w for w in warnings)
    assert "from 1 of 5 feeds" in out
    text = target.read_text(encoding="utf-8")
    # The relative link of the served feed is resolved against the feed's URL.
    assert links(text) == ["https://served.example.org/also", f"{server}/posts/served"]
    assert "## Good server feed" in text


def test_timeout_option_overrides_the_configured_one(scratch: Scratch, cli: RunCli,
                                                     server: str) -> None:
    setup(scratch, [f"{server}/slow.xml", f"{server}/good.xml"], timeout=30, private=True)
    started = time.monotonic()
    code, _, err = cli("gather", ISSUE, "--root", str(scratch.root), "--timeout", "0.5")
    assert code == 0, err
    assert time.monotonic() - started < 4
    assert "no answer within 0.5 s" in err


def test_all_http_feeds_failing_is_exit_1(scratch: Scratch, cli: RunCli, server: str) -> None:
    target = setup(scratch, [f"{server}/error.xml", f"{server}/bad.xml"], private=True)
    code, out, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 1
    assert "HTTP 500" in err and "none of the 2 feeds could be read" in err
    assert "Traceback" not in err
    assert not target.exists() and "wrote" not in out


def test_a_refused_connection_is_a_warning(scratch: Scratch, cli: RunCli,
                                           server: str) -> None:
    # A port that was just free: nothing listens there.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    setup(scratch, [f"http://127.0.0.1:{port}/feed.xml", f"{server}/good.xml"], private=True)
    code, _, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    assert f"127.0.0.1:{port}/feed.xml: feed skipped: cannot connect" in err


def test_a_trickling_server_is_held_to_the_total_deadline(scratch: Scratch, cli: RunCli,
                                                          server: str) -> None:
    """A server that sends a byte every 0.2 s is never idle for a whole timeout; --timeout 1
    still ends that feed after about a second, not after the 12 s it would trickle."""
    setup(scratch, [f"{server}/trickle.xml", f"{server}/good.xml"], timeout=30, private=True)
    started = time.monotonic()
    code, _, err = cli("gather", ISSUE, "--root", str(scratch.root), "--timeout", "1")
    elapsed = time.monotonic() - started
    assert code == 0, err
    assert elapsed < 3, elapsed
    assert f"{server}/trickle.xml: feed skipped: not complete after 1 s (the timeout)" in err


def test_loopback_private_and_link_local_addresses_are_refused(
    scratch: Scratch, cli: RunCli, server: str
) -> None:
    """Without allow_private, a feed on 127.0.0.1, 10.x or 169.254.169.254 is refused before
    any connection, with how to allow it; the server sees no request."""
    port = server.rsplit(":", 1)[1]
    setup(scratch, [f"http://127.0.0.1:{port}/good.xml", "http://169.254.169.254/latest/",
                    "http://10.1.2.3/feed.xml", "http://[::1]:9/feed.xml",
                    "feeds-in/blog.xml"])
    code, _, err = cli("gather", ISSUE, "--root", str(scratch.root))
    assert code == 0, err  # the file still counts
    assert f"127.0.0.1:{port}/good.xml: feed skipped: 127.0.0.1 is a loopback address" in err
    assert "169.254.169.254 is a link-local address" in err
    assert "10.1.2.3 is a private address" in err
    assert "::1 is a loopback address" in err
    assert err.count("pass --allow-private or set allow_private = true in [gather]") == 4
    assert server_hits(server) == []
    code, _, err = cli("gather", ISSUE, "--root", str(scratch.root), "--force",
                       "--allow-private")
    assert code == 0, err
    assert "127.0.0.1" not in err.replace("169.254.169.254", "")  # read this time
    assert "/good.xml" in server_hits(server)


def test_a_redirect_to_a_private_address_is_refused(server: str) -> None:
    """With 127.0.0.1 standing in for a public server, a redirect to the metadata service
    or to a private network is refused before following it."""
    from pipeline.feeds_fetch import FeedUnavailable, Source, address_kind, fetch

    def kind(ip: Any) -> str | None:  # this test's public internet is 127.0.0.1
        return None if str(ip) == "127.0.0.1" else address_kind(ip)

    for target in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/feed.xml"):
        url = f"{server}/redirect?to={target}"
        with pytest.raises(FeedUnavailable) as caught:
            fetch(Source(url, url=url), 5, kind=kind)
        assert caught.value.reason.startswith(f"redirected to {target}: ")
        assert "allow-private" in caught.value.reason
    good = f"{server}/redirect?to={server}/good.xml"
    data, _ = fetch(Source(good, url=good), 5, kind=kind)
    assert b"Good server feed" in data


def server_hits(server: str) -> list[str]:
    return list(_SERVERS[server].hits)
