"""An issue of any length reaches the reader: teasers instead of a refused build.

Each test states its rule in its docstring. The long pieces are generated here: paragraphs
of plain prose with a list and a link each, the shape of a real long piece.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.cache import CACHE_DIR, decode
from pipeline.config import load_config
from pipeline.edition import most_in_full
from pipeline.render import sent_size
from tests.conftest import MINIMAL_CONFIG, REPO, RunCli, Scratch

ISSUE = "2026-12-solstice"
FOLDER = f"issues/{ISSUE}"
URL = f"https://news.example.org/{ISSUE}/"
TEAMS = ("Policy", "Legal", "Data Platform", "Support", "Design")


def long_body(n: int, paragraphs: int = 14) -> str:
    """About 11 KB of Markdown: paragraphs, a list right after a line, a link."""
    words = ("consent", "retention", "the schedule", "our logs", "each team", "a reviewer",
             "the readers", "deletion", "the archive", "an audit")
    parts = []
    for p in range(paragraphs):
        sentence = " ".join(f"{words[(n + p + i) % len(words)]} matters {i}" for i in range(20))
        parts.append(f"Paragraph {p} of piece {n}: {sentence}.")
    parts.append(f"What we changed in piece {n}:\n- the first thing\n  - in detail\n"
                 f"- the [source](https://example.org/source/{n})")
    return "\n\n".join(parts) + "\n"


def long_issue(scratch: Scratch, pieces: int = 25, **email: str) -> None:
    for n in range(pieces):
        extra = {"email": email[f"p{n:02d}"]} if f"p{n:02d}" in email else {}
        scratch.piece(ISSUE, f"p{n:02d}", title=f"Piece number {n}", body=long_body(n),
                      authors=f"[Author {n}]", team=TEAMS[n % len(TEAMS)],
                      order=str(n), summary=f"The summary of piece {n}.", **extra)


def build(cli: RunCli, scratch: Scratch, *extra: str) -> tuple[int, str, str]:
    return cli("build-issue", ISSUE, "--root", str(scratch.root), *extra)


def email_files(scratch: Scratch) -> tuple[str, str]:
    folder = scratch.root / f"public/{ISSUE}"
    return ((folder / "email.html").read_text("utf-8"),
            (folder / "email.txt").read_text("utf-8"))


def teasers_in_html(html: str) -> list[str]:
    return re.findall(r"Read “Piece number (\d+)” on the web", html)


def test_a_long_issue_builds_with_teasers_under_the_budget(scratch: Scratch, cli: RunCli) -> None:
    """25 long pieces: the email is under the budget as sent, the first pieces are in full,
    the rest are teasers with their permalinks, every contributor is credited, the plain
    text makes the same choice, and the web edition carries every piece in full."""
    long_issue(scratch)
    code, out, err = build(cli, scratch)
    assert code == 0, err
    match = re.search(r"note: (\d+) of 25 pieces are teasers in the email: the full email "
                      r"would be (\d+) KB, the budget is 95 KB", err)
    assert match, err
    teasers, full_kb = int(match[1]), int(match[2])
    assert 0 < teasers < 25 and full_kb > 95
    html, text = email_files(scratch)
    config = load_config(scratch.root)
    assert sent_size(html, config) <= 95 * 1024
    assert re.search(rf"HTML email \d+\.\d KB of 95 KB \(\d+\.\d KB in full; {teasers} pieces "
                     r"as teasers\)", out), out
    shown = [int(n) for n in teasers_in_html(html)]
    assert shown == list(range(25 - teasers, 25))  # the last ones, in page order
    for n in range(25):
        assert f"Piece number {n}" in html and f"{URL}#p{n:02d}" in html
        assert f"Author {n}" in html.split("Who made this issue")[1]
        assert (f"Paragraph 0 of piece {n}:" in html) == (n not in shown)
        assert (f"Paragraph 0 of piece {n}:" in text) == (n not in shown)
        if n in shown:
            assert f"The summary of piece {n}." in text and f"[1] {URL}#p{n:02d}" in text
    assert text.count("(summary here, the piece on the web)") == teasers
    web = (scratch.root / f"public/{ISSUE}/index.html").read_text("utf-8")
    assert all(f"Paragraph 13 of piece {n}:" in web for n in range(25))
    feed = (scratch.root / "feeds/feed.json").read_text("utf-8")
    assert all(f"Paragraph 13 of piece {n}:" in feed for n in range(25))


def test_email_full_and_email_teaser_are_honoured(scratch: Scratch, cli: RunCli) -> None:
    """``email: teaser`` is a teaser even in a short issue; ``email: full`` is never one."""
    long_issue(scratch, pieces=3, p00="teaser")
    assert build(cli, scratch)[0] == 0
    html, text = email_files(scratch)
    assert teasers_in_html(html) == ["0"]
    assert "Paragraph 0 of piece 0:" not in text and "Paragraph 0 of piece 1:" in text
    long_issue(scratch, p24="full")
    code, _, err = build(cli, scratch)
    assert code == 0, err
    html, _ = email_files(scratch)
    assert "24" not in teasers_in_html(html) and "Paragraph 13 of piece 24:" in html


def test_full_pieces_over_the_budget_are_a_named_error(scratch: Scratch, cli: RunCli) -> None:
    """When the pieces that must stay full are over the budget on their own, the build
    fails naming them, and writes nothing."""
    long_issue(scratch, **{f"p{n:02d}": "full" for n in range(12)})
    code, _, err = build(cli, scratch)
    assert code == 1
    assert "the pieces marked 'email: full' are too long together: p00.md, p01.md" in err
    assert not (scratch.root / "public").exists()


def test_refuse_keeps_the_old_error(scratch: Scratch, cli: RunCli) -> None:
    """``email.overflow = "refuse"``: over the budget is an error naming the largest pieces."""
    scratch.write("newsletter.toml", MINIMAL_CONFIG + 'overflow = "refuse"\n')
    long_issue(scratch)
    code, _, err = build(cli, scratch)
    assert code == 1
    assert re.search(r"error: the HTML email is \d+\.\d KB, over the 95 KB budget", err)
    assert "the largest pieces: p" in err and "are teasers" not in err


def test_strict_makes_teasers_an_error(scratch: Scratch, cli: RunCli) -> None:
    """``--strict``: an editor who wants to know gets an error, and nothing is written."""
    long_issue(scratch)
    code, _, err = build(cli, scratch, "--strict")
    assert code == 1
    assert not (scratch.root / "public").exists()
    assert re.search(r"error: \d+ of 25 pieces are teasers in the email", err)


def test_a_bad_email_value_is_located(scratch: Scratch, cli: RunCli) -> None:
    """``email: summary`` is an error at its line, with the two choices."""
    scratch.piece(ISSUE, "odd", title="Odd", email="teasr")
    code, _, err = build(cli, scratch)
    assert code == 1
    assert "odd.md:8: error: 'email' must be 'full' or 'teaser', not 'teasr' — did you mean " \
           "'teaser'?" in err


def test_the_budget_counts_what_is_sent(scratch: Scratch, cli: RunCli, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The size the build reports is never less than the HTML part of a real message sent
    to a subscriber (the unsubscribe link in place of the placeholder)."""
    long_issue(scratch, pieces=2)
    assert build(cli, scratch)[0] == 0
    html, _ = email_files(scratch)
    config = load_config(scratch.root)
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", "a secret for the test, long enough")
    assert cli("subscribers", "add", "reader-with-a-long-name@example.org",
               "--root", str(scratch.root))[0] == 0
    outbox = tmp_path / "outbox"
    code, _, err = cli("send", ISSUE, "--outbox", str(outbox), "--yes", "--root",
                       str(scratch.root))
    assert code == 0, err
    [sent] = list(outbox.glob("*.eml"))
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert part is not None
    delivered = part.get_content()
    assert "%%unsubscribe_url%%" not in delivered and "token=" in delivered
    assert len(delivered.encode("utf-8")) <= sent_size(html, config)
    assert sent_size(html, config) > len(html.encode("utf-8"))


def test_status_shows_the_email_with_and_without_teasers(scratch: Scratch, cli: RunCli) -> None:
    """``status`` reports the email's size as sent, its size in full and the teasers."""
    long_issue(scratch)
    code, out, _ = cli("status", ISSUE, "--root", str(scratch.root))
    assert code == 0
    assert re.search(r"Email: \d+\.\d KB of 95 KB as sent \(\d+\.\d KB in full; \d+ pieces as "
                     r"teasers\)", out), out
    code, out, _ = cli("status", ISSUE, "--json", "--root", str(scratch.root))
    email = json.loads(out)["email"]
    assert email["size"] <= 95 * 1024 < email["full_size"] and email["teasers"] > 0


@given(st.lists(st.integers(min_value=1, max_value=40_000), min_size=1, max_size=40),
       st.lists(st.integers(min_value=0, max_value=3_000), min_size=41, max_size=41),
       st.integers(min_value=0, max_value=200_000), st.integers(min_value=0, max_value=5_000))
@settings(max_examples=400, deadline=None)
def test_most_in_full_answers_as_a_bisection_would(weights: list[int], noise: list[int],
                                                   budget: int, frame: int) -> None:
    """Whatever the pieces weigh, and however far their sizes are from the weights (any
    growing sizes), the number of pieces kept in full is the largest that fits, or 0."""
    sizes = [frame]
    for weight, extra in zip(weights, noise, strict=False):
        sizes.append(sizes[-1] + weight + extra)  # grows with k, not in proportion
    asked: list[int] = []

    def size_with(k: int) -> int:
        asked.append(k)
        return sizes[k]

    n = len(weights)
    assume(sizes[n] > budget)  # it is only asked of an email over its budget
    kept = most_in_full(weights, sizes[n], budget, size_with)
    fitting = [k for k in range(n) if sizes[k] <= budget]
    assert kept == (max(fitting) if fitting else 0)
    assert len(asked) <= 3 + max(n, 1).bit_length()  # never more than a bisection and two


def test_most_in_full_needs_few_renderings_when_sizes_follow_the_weights() -> None:
    weights = [9_000 + 700 * (i % 7) for i in range(25)]
    sizes = [4_000 + 25 * 450]
    for weight in weights:  # each piece in full: its body with inlined CSS, less its teaser
        sizes.append(sizes[-1] + int(weight * 1.07) - 450)
    asked: list[int] = []
    kept = most_in_full(weights, sizes[-1], 95 * 1024,
                        lambda k: asked.append(k) or sizes[k])
    assert sizes[kept] <= 95 * 1024 < sizes[kept + 1]
    assert len(asked) == 3  # all teasers, the guess and the one after it; a bisection asks 5


def test_the_cache_keeps_the_plain_text_the_email_made(scratch: Scratch, cli: RunCli) -> None:
    """A teaser's plain text is never made for its email, so the cache does not store it;
    a full piece's is stored. Pages made again from the stored bodies (a template changed)
    are the same bytes as pages made with no cache at all."""
    long_issue(scratch)
    code, _, err = build(cli, scratch)
    assert code == 0, err
    packs = list((scratch.root / CACHE_DIR / "bodies").rglob("*.json"))
    assert len(packs) == 1
    stored = decode(packs[0].read_bytes().partition(b"\n")[2])["entries"]
    plain = {payload["html"].split(":", 1)[0]: payload["plain"] for kind, _, payload in stored
             if kind == "piece"}
    html, _ = email_files(scratch)
    teasers = {int(n) for n in teasers_in_html(html)}
    assert len(plain) == 25 and 0 < len(teasers) < 25
    for n in range(25):
        made = plain[f"<p>Paragraph 0 of piece {n}"]
        assert (made is None) == (n in teasers)
        if made is not None:
            assert f"Paragraph 0 of piece {n}:" in made[0]
    template = scratch.root / "templates/email.txt"
    template.parent.mkdir(exist_ok=True)
    template.write_text((REPO / "pipeline/templates/email.txt").read_text("utf-8") + "\n",
                        encoding="utf-8")
    code, out, err = build(cli, scratch, "-v")
    assert code == 0, err
    assert "pieces 25 reused, 0 rendered" in out + err
    again = email_files(scratch)
    code, _, err = build(cli, scratch, "--no-cache")
    assert code == 0, err
    assert again == email_files(scratch)
