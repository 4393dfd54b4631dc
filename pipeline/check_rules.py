"""The rules of ``newsletter check``: each rule's id, default severity, what it finds and how to
fix a finding. The build reports the rules marked ``build``; :mod:`pipeline.check_body` applies
the editorial ones to each body; :mod:`pipeline.check` reports them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Level


@dataclass(frozen=True)
class Rule:
    """A rule of ``newsletter check``: its default severity, what it finds and the fix."""

    severity: Level
    description: str
    fix: str
    build: bool = False  # found by the build itself: an error here also fails build-issue


#: Every rule: id -> (default severity, one-line description, how to fix a finding).
RULES: dict[str, Rule] = {
    # ----- found by the build (analyse_issue); errors here also stop build-issue
    "build": Rule("error", "a problem the build reports without a more specific rule",
                  "Read the message; 'newsletter build-issue ISSUE --drafts' shows the same.",
                  build=True),
    "config": Rule("error", "newsletter.toml has a mistake",
                   "Fix the key the message names; README.md ('Configuration') describes "
                   "every key of newsletter.toml.", build=True),
    "unreadable": Rule("error", "a file cannot be read",
                       "Check the file's permissions, or that it is a file and not a folder.",
                       build=True),
    "outside-root": Rule("error", "a symbolic link leads a file or folder outside the "
                         "newsletter root", "Copy the file (or move the folder) into the "
                         "newsletter instead of linking to it.", build=True),
    "not-a-file": Rule("error", "a FIFO, device or socket is named like a piece",
                       "Remove it, or replace it with a Markdown file.", build=True),
    "too-large": Rule("error", "a piece is over max_piece_kb, so it is not read",
                      "Split it into shorter pieces, or raise max_piece_kb in newsletter.toml.",
                      build=True),
    "unsafe-file": Rule("error", "a linked file is of a type that could run in the site",
                        "Publish only images, PDF, text, CSV, audio or video: link to the file "
                        "where it is hosted, convert it (a page to PDF), or export the SVG again "
                        "without scripts, event handlers or outside references.", build=True),
    "not-utf8": Rule("error", "a file is not UTF-8 text",
                     "Save the file as UTF-8 (most editors: 'Save with encoding').", build=True),
    "no-front-matter": Rule("error", "a piece does not start with front matter",
                            "Start the file with '---', the keys (title, authors, ...), then "
                            "another '---'; 'newsletter new-piece' writes one for you.",
                            build=True),
    "front-matter-unclosed": Rule("error", "the front matter has no closing '---'",
                                  "Add a line '---' after the last key of the front matter.",
                                  build=True),
    "front-matter-shape": Rule("error", "the front matter is not 'key: value' lines",
                               "Write one 'key: value' per line between the '---' lines.",
                               build=True),
    "yaml-syntax": Rule("error", "the front matter is not valid YAML",
                        "Put quotes around text that contains ': ' or ' #' or starts with one "
                        "of [ ] { } & * ! | > ' \" % @ `, and check the indentation.",
                        build=True),
    "duplicate-key": Rule("error", "a front-matter key is given twice",
                          "Keep one of the two lines.", build=True),
    "unknown-key": Rule("error", "a front-matter key the pipeline does not know",
                        "Fix the spelling (the message suggests the nearest key) or remove "
                        "the line.", build=True),
    "missing-field": Rule("error", "a required front-matter key is missing",
                          "Add the key with a value; the message shows an example.",
                          build=True),
    "wrong-type": Rule("error", "a front-matter value has the wrong type or is empty",
                       "Write the value as the message says, e.g. a list [A, B] or quoted "
                       "text, or remove an empty key.", build=True),
    "bad-status": Rule("error", "status is neither draft nor ready",
                       "Write 'status: draft' or 'status: ready'.", build=True),
    "no-status": Rule("note", "a piece has no status, so it is a draft",
                      "Add 'status: draft' while writing and 'status: ready' when it is "
                      "finished.", build=True),
    "unknown-section": Rule("error", "a piece names a section newsletter.toml does not have",
                            "Use one of the sections listed in the message (or add the "
                            "section to 'sections' in newsletter.toml).", build=True),
    "unknown-author": Rule("warning", "an author or reviewer is not in contributors.toml",
                           "Add the person to contributors.toml (name and team), or fix the "
                           "spelling of their name.", build=True),
    "no-team": Rule("warning", "nobody knows which team a piece comes from",
                    "Add 'team: ...' to the front matter, or list the authors in "
                    "contributors.toml with their team.", build=True),
    "empty-piece": Rule("warning", "a piece has no text after its front matter",
                        "Write the piece below the closing '---', or remove the file.",
                        build=True),
    "duplicate-slug": Rule("error", "two files of an issue have the same anchor",
                           "Rename one of the files so their names differ in more than "
                           "case or punctuation.", build=True),
    "issue-file": Rule("error", "issue.md is not a readable file",
                       "Make issue.md a file (front matter and the editor's letter), or "
                       "remove it.", build=True),
    "issue-folder-name": Rule("warning", "a folder in issues/ is not named like an issue",
                              "Rename it YYYY-MM-equinox or YYYY-MM-solstice as the message "
                              "says, or move it out of issues/.", build=True),
    "misplaced-piece": Rule("warning", "a Markdown file directly in issues/",
                            "Move it into its issue's folder, e.g. issues/2026-12-solstice/.",
                            build=True),
    "contributors": Rule("error", "contributors.toml has a mistake",
                         "Fix the entry the message names: [id] with name = \"...\" and "
                         "team = \"...\".", build=True),
    "missing-file": Rule("error", "an image or link names a file that is not in the issue "
                         "folder", "Check the spelling and the folder (paths are relative to "
                         "the issue folder, e.g. images/chart.png), or add the file.",
                         build=True),
    "broken-link": Rule("error", "a link or image that cannot be published",
                        "Link to a file inside the issue folder, or to a full https:// URL.",
                        build=True),
    "unsafe-link": Rule("error", "a link hides a URL scheme behind percent-encoding",
                        "Write the full https:// URL, or a plain file name.", build=True),
    "email-teasers": Rule("note", "the email is over its size budget in full, so the last "
                          "pieces are teasers in it (the web edition and feeds are full)",
                          "Nothing to do; to choose, mark a piece 'email: full' or 'email: "
                          "teaser', or shorten the longest pieces.", build=True),
    "control-character": Rule("warning", "a line holds an invisible control character (often "
                              "a curly quote or dash of Windows-1252 text read wrongly)",
                              "Retype the character, or save the file again as UTF-8 from "
                              "the program it was written in.", build=True),
    "empty-target": Rule("error", "a link has no target: [text]()",
                         "Write the address between the parentheses, [text](https://...), or "
                         "remove the brackets.", build=True),
    "not-a-piece": Rule("error", "a link to a .md file of the issue folder that is not a "
                        "published piece (a draft, or a file left out)",
                        "Link a piece that is ready, or make the linked piece ready.",
                        build=True),
    "dangling-anchor": Rule("warning", "an in-page link (#heading) that lands on no heading "
                            "of its piece or of the issue",
                            "Use the heading's id as GitHub makes it (lower case, punctuation "
                            "dropped, spaces as hyphens), or other-piece.md#heading.",
                            build=True),
    "ambiguous-anchor": Rule("warning", "an in-page link could land on headings of several "
                             "pieces", "Say which: other-piece.md#heading.", build=True),
    "remote-image": Rule("warning", "an image is loaded from another site",
                         "Download the image into the issue folder (e.g. images/) and link "
                         "to it there, so opening the email tells nobody who read it.",
                         build=True),
    "image": Rule("error", "an image the email cannot show (not an image, a format email "
                  "clients do not show, a damaged SVG)",
                  "Save it again as PNG (charts, screenshots) or JPEG (photos).", build=True),
    "image-weight": Rule("warning", "the email's images weigh more than email.image_budget_kb",
                         "Crop or shrink the largest images, use fewer, or save photos as "
                         "JPEG; or raise email.image_budget_kb in newsletter.toml.",
                         build=True),
    "too-deep": Rule("error", "the Markdown nests too deeply to render",
                     "Flatten the nested lists, quotes or emphasis.", build=True),
    "email-size": Rule("error", "the HTML email is over the size budget",
                       "Shorten the largest pieces, link to the web edition for detail, or "
                       "raise email.size_budget_kb in newsletter.toml.", build=True),
    # ----- the editorial rules of newsletter check
    "image-alt": Rule("warning", "an image has no alt text, or alt text that says nothing "
                      "(a file name, 'image', 'chart', under 3 characters)",
                      "Describe what the image shows and why it is there: ![A bar chart of "
                      "energy per training run: the baseline used 1,200 kWh](images/x.png).",
                      build=True),
    "missing-summary": Rule("warning", "a draft has no summary yet",
                            "Add 'summary:' with one or two sentences (the teaser, the "
                            "email's preheader and the feed text); a ready piece needs one."),
    "heading-jump": Rule("warning", "a heading is more than one level below the one before",
                         "Go down one level at a time: under '##' use '###', not '####' "
                         "(the piece's title is the level above its first heading)."),
    "empty-link": Rule("warning", "a link has no text",
                       "Put words in the brackets, [like this](https://...), that say where "
                       "the link goes."),
    "link-text": Rule("warning", "a link's text is 'click here', 'here', 'read more' or "
                      "'link'", "Make the link text say where it goes, e.g. 'the retention "
                      "schedule' instead of 'click here'; screen readers list links by text."),
    "local-link": Rule("error", "a link to localhost, 127.0.0.1, 0.0.0.0, a .local host or "
                       "a file: URL", "Link to the public address of the page or file; for a "
                       "file, put it in the issue folder and link to it by name."),
    "duplicate-title": Rule("warning", "two pieces of the issue have the same title (or "
                            "titles with the same slug)",
                            "Give each piece its own title, or merge the two pieces."),
    "raw-html": Rule("warning", "raw HTML that the sanitiser removes from the piece",
                     "Write it in Markdown instead, or remove it: scripts, styles, event "
                     "handlers and embeds never reach readers."),
    "word-limit": Rule("warning", "a piece is longer than check.word_limit words",
                       "Cut the piece, or split it into two pieces (or raise "
                       "check.word_limit in newsletter.toml)."),
    "review": Rule("error", "no reviewer who is not an author, while check.require_review "
                   "is on (a warning for drafts)",
                   "Ask a colleague to read the piece and add 'reviewed_by: [Their Name]'."),
    "empty-letter": Rule("warning", "issue.md has a letter that shows nothing (only a "
                         "comment), so the issue would show an empty 'From the editors'",
                         "Write the editor's letter below the front matter of issue.md, or "
                         "delete the placeholder comment to have no letter."),
    "left-out": Rule("note", "a file of the issue folder that is not a piece",
                     "Rename it to .md if it is a piece; otherwise nothing to do."),
}

#: Rule ids the build uses that check never reports (they are about whole builds).
BUILD_ONLY_RULES = frozenset({"nothing-to-publish", "not-published", "other-issue"})

