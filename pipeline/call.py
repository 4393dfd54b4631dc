"""``newsletter call-for-pieces``: the announcement an editor sends to everyone: the theme,
the deadline, how to add a piece, the sections that still want one and where to ask (printed
as Markdown or text, or sent to ``email.call_address``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from . import plaintext
from .content import load_issue
from .errors import PipelineError, Problems, join_names, long_date, plural
from .seasons import IssueId
from .status import Target, deadline_of, theme_of

# --------------------------------------------------------------------------- call for pieces

Span = tuple[Literal["", "b", "code"], str]
Block = tuple[Literal["h1", "h2", "p", "code", "list"], Any]


@dataclass(frozen=True)
class Call:
    """What a call for pieces says."""

    newsletter: str
    issue_id: IssueId
    name: str
    kind: str
    theme: str | None
    summary: str | None
    publication_date: date
    deadline: date
    sections: tuple[tuple[str, int], ...]
    editors: tuple[str, ...]
    editors_address: str | None
    require_review: bool
    word_limit: int


def make_call(target: Target) -> Call:
    config, issue_id = target.config, target.issue_id
    sections = tuple((s, 0) for s in config.sections)
    theme = summary = None
    editors: tuple[str, ...] = ()
    if target.exists:
        # Ready pieces only; a piece with errors is not counted (status shows it).
        issue = load_issue(issue_id, target.folder, config, None, Problems())
        theme = theme_of(issue)
        # load_issue falls back to the first piece's summary: keep only issue.md's own.
        fallback = issue.pieces[0].summary if issue.pieces else ""
        summary = issue.summary if issue.summary and issue.summary != fallback else None
        editors = tuple(e.name for e in issue.editors)
        sections = tuple((s, sum(1 for p in issue.pieces if p.section == s))
                         for s in config.sections)
    return Call(
        newsletter=config.title, issue_id=issue_id, name=issue_id.name(config.season_names),
        kind=issue_id.kind, theme=theme, summary=summary,
        publication_date=issue_id.publication_date(config.time_zone),
        deadline=deadline_of(config, issue_id), sections=sections, editors=editors,
        editors_address=config.editors_address,
        require_review=config.workflow.require_review, word_limit=config.workflow.word_limit,
    )


#: The front matter a call for pieces reminds people of (new-piece writes every field).
FRONT_MATTER = (
    ("title: Your headline", "required"),
    ("authors: [Your Name, A Co-author]", "required; see contributors.toml"),
    ("summary: One or two sentences.", "required once ready"),
    ("status: ready", "draft while writing"),
    ("reviewed_by: [A Colleague]", "someone who is not an author"),
)


def call_blocks(call: Call) -> list[Block]:
    """The announcement as a list of blocks, written out as Markdown or plain text."""
    month = call.name.split()[0]
    blocks: list[Block] = [("h1", f"Call for pieces: {call.name}")]
    blocks.append(("p", [
        ("b", call.newsletter),
        ("", f" comes out on {long_date(call.publication_date)}, the day of the {month} "
             f"{call.kind}, and we would like your piece in it."),
    ]))
    if call.theme:
        stop = "" if call.theme[-1] in ".?!" else "."
        theme: list[Span] = [("b", f"Theme: {call.theme}{stop}")]
        if call.summary:
            theme.append(("", f" {call.summary}"))
        blocks.append(("p", theme))
    blocks.append(("p", [
        ("b", f"Deadline: {long_date(call.deadline)}."),
        ("", " Pieces marked "), ("code", "status: ready"),
        ("", " by the end of that day go into the issue; drafts wait for the next one."),
    ]))
    folder = f"issues/{call.issue_id}/"
    blocks.append(("h2", "How to add a piece"))
    blocks.append(("p", [("", "In the newsletter's repository, run:")]))
    blocks.append(("code", [f"newsletter new-piece --issue {call.issue_id} \\",
                            '    --title "Your title" --author "Your Name"']))
    blocks.append(("p", [
        ("", "It writes your piece into "), ("code", folder),
        ("", ", named after its title, with every front-matter field explained. Write below "
             f"the front matter in Markdown, in up to {call.word_limit:,} words, then run "),
        ("code", f"newsletter check {call.issue_id}"),
        ("", " to see anything that needs fixing before the deadline."),
    ]))
    blocks.append(("h2", "Sections we want"))
    items: list[list[Span]] = []
    for name, count in call.sections:
        if count:
            items.append([("", f"{name}: {plural(count, 'piece')} ready so far")])
        else:
            items.append([("b", f"{name}: nothing yet"),
                          ("", ", we would especially like a piece here")])
    blocks.append(("list", items))
    blocks.append(("h2", "The front matter"))
    blocks.append(("p", [("", "Your piece starts with these lines (new-piece writes them "
                             "for you, with the optional ones):")]))
    width = max(len(text) for text, _ in FRONT_MATTER)
    blocks.append(("code", ["---", *(f"{text:<{width}}  # {note}" for text, note in FRONT_MATTER),
                            "---"]))
    review = ("Every piece needs a reviewer who is not one of its authors: ask a colleague "
              "to read it and add them to ") if call.require_review else (
              "Ask a colleague to read your piece before it goes in, and add them to ")
    blocks.append(("p", [("", review), ("code", "reviewed_by"),
                         ("", ". Reviewing is contributing: reviewers are credited too.")]))
    blocks.append(("h2", "Questions"))
    if call.editors_address:
        ask: list[Span] = [("", "Write to the editors at "), ("code", call.editors_address),
                           ("", ".")]
    elif call.editors:
        ask = [("", f"Ask the editors of this issue, {join_names(call.editors)}.")]
    else:
        ask = [("", "Reply to this message.")]
    blocks.append(("p", ask))
    return blocks



_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>#|"})


def _md_spans(spans: list[Span]) -> str:
    out = []
    for style, text in spans:
        if style == "code":
            fence = "``" if "`" in text else "`"
            out.append(f"{fence}{text}{fence}")
        elif style == "b":
            out.append(f"**{text.translate(_MD_SPECIAL)}**")
        else:
            out.append(text.translate(_MD_SPECIAL))
    return "".join(out)


def call_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for kind, value in blocks:
        if kind == "h1":
            out.append(f"# {str(value).translate(_MD_SPECIAL)}")
        elif kind == "h2":
            out.append(f"## {str(value).translate(_MD_SPECIAL)}")
        elif kind == "p":
            out.append(_md_spans(value))
        elif kind == "code":
            lang = "yaml" if value[0] == "---" else "sh"
            out.append("\n".join([f"```{lang}", *value, "```"]))
        else:
            out.append("\n".join(f"- {_md_spans(item)}" for item in value))
    return "\n\n".join(out) + "\n"


def _text_spans(spans: list[Span]) -> str:
    """Bold as ``*text*`` and code as `` `code` `` kept on one line, as in the text email."""
    out = []
    for style, text in spans:
        if style == "code":
            out.append("`" + text.replace(" ", plaintext.GLUE) + "`")
        else:
            out.append(f"*{text}*" if style == "b" else text)
    return "".join(out)


def call_text(blocks: list[Block], width: int = plaintext.WIDTH) -> str:
    out: list[str] = []
    for kind, value in blocks:
        if kind == "h1":
            out.append(plaintext.underline(plaintext.wrap(str(value), width), "="))
        elif kind == "h2":
            out.append(plaintext.underline(str(value), "-"))
        elif kind == "p":
            out.append(plaintext.wrap(_text_spans(value), width))
        elif kind == "code":
            out.append("\n".join(f"    {line}".rstrip() for line in value))
        else:
            out.append("\n".join(plaintext.wrap(_text_spans(item), width, first="  * ",
                                                rest="    ") for item in value))
    return "\n\n".join(out) + "\n"


def send_call(target: Target, call: Call, text: str,
              moment: datetime) -> tuple[str | None, str]:
    """Send the call, as plain text, to email.call_address through the delivery transport:
    why it was not sent (None when it was) and the transport's label."""
    import os

    from .remind import deliver, message_id
    from .send import SendOptions, transports_for

    config = target.config
    address = config.workflow.call_address
    if not address:
        raise PipelineError("call-for-pieces --send: set call_address in [email] of "
                            "newsletter.toml (e.g. an all-staff list); nothing was sent")
    transports, label = transports_for(config, SendOptions(issue=str(call.issue_id)),
                                       dict(os.environ), count=1)
    try:
        why = deliver(config, transports[0], "", address, f"Call for pieces: {call.name}",
                      text, message_id(config, f"call|{call.issue_id}|{moment.isoformat()}"),
                      moment)
    finally:
        transports[0].close()
    return why, label
