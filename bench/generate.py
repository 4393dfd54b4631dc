"""Write a synthetic Ethics & Society newsletter root for the benchmark.

    python bench/generate.py OUT_DIR [--issues 40] [--pieces 25] [--seed 1]
    python bench/generate.py OUT_DIR --next [--pieces 25] [--seed 1]

OUT_DIR gets a ``newsletter.toml``, a ``contributors.toml`` (60 people in 12 teams) and
``issues/`` with ISSUES consecutive issues going back from 2026-12-solstice, each with an
``issue.md`` and PIECES ready pieces of 400-1500 words of Markdown: paragraphs with emphasis,
links and inline code, ``##``/``###`` headings, bullet and numbered lists (some nested), block
quotes and, now and then, a table, a fenced code block and a footnote.

``--next`` adds the issue after the newest one (2027-03-equinox after the default archive) to
a newsletter written before, by the same contributors.

The output depends only on the arguments: every choice comes from ``random.Random(seed)``,
never from the clock or from set ordering. The text is made up from a small word list on
technology-ethics themes, so it reads like prose without meaning anything.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random

NEWEST = (2026, 12)
KIND = {3: "equinox", 6: "solstice", 9: "equinox", 12: "solstice"}
SECTIONS = ("Research", "Practice", "Policy", "Community")
MIN_WORDS, MAX_WORDS = 400, 1500

# An issue of 25 pieces of up to 1500 words is several hundred KB of HTML email, far over the
# sample's 95 KB budget: with the default email.overflow = "teasers", the build turns the last
# pieces into teasers in the email, as it would for any newsletter, and the benchmark measures
# that choice too.
SIZE_BUDGET_KB = 95

NEWSLETTER_TOML = f"""\
# A synthetic newsletter written by bench/generate.py for the benchmark. Not for publishing.
title = "Ethics & Society"
description = "Four times a year, people from every team on the ethics of the technology we build."
base_url = "https://ethics.example.org"
language = "en"
time_zone = "Europe/London"
sections = ["Research", "Practice", "Policy", "Community"]
season_names = "neutral"        # neutral | northern | southern
submission_lead_days = 14
output_dir = "public"

[email]
sender = "Ethics & Society <ethics@example.org>"
editors_address = "ethics-editors@example.org"
size_budget_kb = {SIZE_BUDGET_KB}

[feeds]
issues = 10
"""

TEAMS = (
    "Data Platform", "Policy", "Machine Learning", "Design Research", "Accessibility",
    "Infrastructure", "Legal", "Trust & Safety", "Support", "Security", "Sustainability",
    "People Operations",
)
FIRST_NAMES = (
    "Amara", "Tomasz", "Farah", "Priya", "Oleksandr", "Mateo", "Yuki", "Kwame", "Ingrid",
    "Siobhán", "Lucía", "Dmitri", "Aisha", "Björn", "Chiara", "Nnamdi", "Mei", "Rafael",
    "Leila", "Anders", "Zanele", "Hiroshi", "Esther", "Ilse", "Joaquín", "Noor", "Kaito",
    "Ruth", "Emeka", "Sunniva", "Tariq", "Ana", "Elif", "Marek", "Wanjiru", "Rosa",
)
LAST_NAMES = (
    "Osei", "Wierzbicki", "Haddad", "Raghunathan", "Kovalenko", "Quispe", "Tanabe",
    "Mensah-Bonsu", "Halvorsen", "Gallagher", "Fernández", "Petrov", "Bello", "Lindqvist",
    "Romano", "Okafor", "Chen", "Alves", "Karimi", "Nyberg", "Dlamini", "Sato", "Cohen",
    "de Vries", "Morales", "Rahman", "Ishikawa", "Abebe", "Eze", "Solberg", "Aziz", "Lopes",
    "Yilmaz", "Novak", "Kamau", "Ortega",
)
PRONOUNS = ("she/her", "he/him", "they/them")

# ------------------------------------------------------------------ the word list
NOUNS = (
    "consent", "privacy", "accountability", "transparency", "fairness", "dataset", "model",
    "audit", "harm", "benefit", "trade-off", "retention schedule", "deletion request",
    "threat model", "user", "community", "moderator", "reviewer", "stakeholder", "regulator",
    "datasheet", "risk register", "incident", "safeguard", "default", "dashboard", "metric",
    "energy budget", "carbon cost", "supply chain", "label", "annotation", "classifier",
    "recommendation", "ranking", "feedback loop", "power imbalance", "access", "screen reader",
    "alt text", "dark pattern", "opt-out", "appeal", "explanation", "baseline", "evaluation",
    "benchmark", "contractor", "workload", "on-call rota", "policy", "guideline", "checklist",
    "procurement", "vendor", "contract", "data subject", "purpose", "lawful basis", "log",
    "pseudonym", "identifier", "sensor", "camera", "location trace", "inference", "prediction",
    "error rate", "false positive", "edge case", "minority group", "language", "translation",
    "interface", "notification", "setting", "permission", "repair", "hardware", "data centre",
    "water use", "heat", "grid", "budget", "roadmap", "deadline", "launch", "experiment",
    "prototype", "pilot", "trust", "dignity", "autonomy", "responsibility", "care",
)
ADJECTIVES = (
    "careful", "opaque", "accountable", "proportionate", "invisible", "shared", "contested",
    "reversible", "irreversible", "fragile", "robust", "honest", "public", "private",
    "sensitive", "routine", "hidden", "explicit", "implicit", "measurable", "unmeasured",
    "fair", "biased", "inclusive", "accessible", "expensive", "cheap", "slow", "hasty",
    "local", "global", "documented", "undocumented", "automated", "manual", "temporary",
    "permanent", "informed", "uninformed", "overlooked", "practical", "structural",
)
VERBS = (
    "shapes", "hides", "reveals", "measures", "documents", "changes", "reduces", "amplifies",
    "protects", "exposes", "limits", "widens", "narrows", "supports", "undermines",
    "complicates", "clarifies", "replaces", "outlasts", "justifies", "excludes", "includes",
    "costs", "saves", "delays", "informs", "tests", "strains", "rewards", "burdens",
)
ADVERBS = (
    "quietly", "rarely", "often", "deliberately", "gradually", "sometimes", "repeatedly",
    "almost always", "in practice", "by default", "over time", "without notice",
)
OPENERS = (
    "In our experience", "Last quarter", "Across three teams", "When we looked closely",
    "For most of the year", "In the pilot", "According to the review", "By our own count",
    "Before the launch", "After the incident", "In interviews with colleagues",
    "On the support queue", "In the retrospective", "Once the numbers were in",
)
CONNECTORS = (
    "but", "and", "so", "because", "while", "although", "even though", "which means",
)
PEOPLE_GROUPS = (
    "the people in our logs", "new starters", "the support engineers", "volunteer moderators",
    "our users", "the on-call engineers", "people who use screen readers", "contractors",
    "the reviewers", "our neighbours", "the data subjects", "the product owners",
    "people with slow connections", "our lawyers", "readers of this newsletter",
)
QUESTIONS = (
    "Who carries the cost when the {n} fails?",
    "What would {an} {a} {n} look like here?",
    "Is the {n} worth the {n2}?",
    "Who decided that the {n} was acceptable, and when?",
    "Would we still ship the {n} if we had to explain it in public?",
)
TAGS = (
    "consent", "privacy", "data", "energy", "infrastructure", "machine-learning",
    "accessibility", "moderation", "policy", "procurement", "retention", "fairness",
    "transparency", "repair", "security", "labour", "community", "design", "evaluation",
    "documentation", "regulation", "sustainability", "safety", "language",
)
CODE_LANGS = ("python", "yaml", "sql", "text", "toml")
DOMAINS = ("example.org", "example.com", "example.net")


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    team: str


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "piece"


def yaml_text(text: str) -> str:
    """A YAML scalar for ``text``: plain when it is obviously safe, else double-quoted."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9 ,.'?!()/&-]*", text) and ": " not in text:
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def yaml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


# ------------------------------------------------------------------ sentences


class Writer:
    """Sentence-like text from the word list, with a piece's inline Markdown sprinkled in."""

    def __init__(self, rng: Random, siblings: Sequence[str] = ()) -> None:
        self.rng = rng
        self.siblings = list(siblings)  # file names of the other pieces of the issue
        self.footnotes: list[str] = []

    def noun(self) -> str:
        return self.rng.choice(NOUNS)

    def adjective(self) -> str:
        return self.rng.choice(ADJECTIVES)

    def phrase(self) -> str:
        """A noun phrase, sometimes with an adjective and a qualifier."""
        rng = self.rng
        words = f"the {self.adjective()} {self.noun()}" if rng.random() < 0.5 else \
            f"the {self.noun()}"
        if rng.random() < 0.25:
            words += f" of {rng.choice(PEOPLE_GROUPS)}"
        return words

    def clause(self) -> str:
        rng = self.rng
        subject = self.phrase() if rng.random() < 0.7 else rng.choice(PEOPLE_GROUPS)
        verb = rng.choice(VERBS)
        if subject in PEOPLE_GROUPS:  # all plural
            verb = verb[:-3] + "y" if verb.endswith("ies") else verb[:-1]
        adverb = f"{rng.choice(ADVERBS)} " if rng.random() < 0.3 else ""
        return f"{subject} {adverb}{verb} {self.phrase()}"

    def sentence(self, inline: bool = True) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.08:
            template = rng.choice(QUESTIONS)
            adjective = self.adjective()
            return template.format(n=self.noun(), n2=self.noun(), a=adjective,
                                   an=article(adjective))
        text = self.clause()
        if roll < 0.35:
            text = f"{rng.choice(OPENERS)}, {text}"
        if rng.random() < 0.45:
            text += f", {rng.choice(CONNECTORS)} {self.clause()}"
        if rng.random() < 0.12:
            text += f" in {rng.randint(2, 97)}% of cases"
        text = text[0].upper() + text[1:]
        if inline:
            text = self.decorate(text)
        return text + "."

    def decorate(self, text: str) -> str:
        """Add emphasis, a link, inline code or a footnote reference to one sentence."""
        rng = self.rng
        words = text.split(" ")
        if len(words) < 6:
            return text
        roll = rng.random()
        i = rng.randrange(1, len(words) - 2)
        plain = all(re.fullmatch(r"[A-Za-z'-]+", w) for w in words[i:i + 2])
        if roll < 0.12 and plain:
            words[i] = f"*{words[i]}*"
        elif roll < 0.16 and plain:
            words[i] = f"**{words[i]}**"
        elif roll < 0.25 and plain:
            url = f"https://{rng.choice(DOMAINS)}/{slugify(words[i] + '-' + words[i + 1])}"
            words[i] = f"[{words[i]}"
            words[i + 1] = f"{words[i + 1]}]({url})"
        elif roll < 0.26 and plain and self.siblings:
            words[i] = f"[{words[i]}"
            words[i + 1] = f"{words[i + 1]}]({rng.choice(self.siblings)})"
        elif roll < 0.29:
            identifier = f"{slugify(self.noun())}_{rng.choice(('days', 'limit', 'owner'))}"
            words[-1] += f" (the `{identifier.replace('-', '_')}` setting)"
        text = " ".join(words)
        if rng.random() < 0.006 and len(self.footnotes) < 3:
            self.footnotes.append(self.sentence(inline=False))
            text += f"[^{len(self.footnotes)}]"
        return text

    def paragraph(self, low: int = 3, high: int = 6) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(low, high)))

    def title(self) -> str:
        rng = self.rng
        n, n2, a = self.noun(), self.noun(), self.adjective()
        forms: tuple[Callable[[], str], ...] = (
            lambda: f"The {a} {n}",
            lambda: f"{n} is not {article(n2)} {n2}",
            lambda: f"What the {n} really costs",
            lambda: f"Following {article(n)} {n} all the way down",
            lambda: f"Notes from our first {n} review",
            lambda: f"{a} by default",
            lambda: f"Five questions to ask before the {n}",
            lambda: f"Who pays for the {n}?",
            lambda: f"{article(n)} {n} people actually use",
            lambda: f"The {n}, the {n2} and {rng.choice(PEOPLE_GROUPS)}",
            lambda: f"Asking again about the {a} {n}",
            lambda: f"{n} before {n2}",
        )
        text = rng.choice(forms)()
        return text[0].upper() + text[1:]

    def heading(self) -> str:
        rng = self.rng
        forms: tuple[Callable[[], str], ...] = (
            lambda: f"What we found about the {self.noun()}",
            lambda: f"The {self.adjective()} part",
            lambda: f"Why the {self.noun()} matters",
            lambda: f"Where the {self.noun()} comes from",
            lambda: "What we are asking teams to do",
            lambda: f"{self.adjective()} {self.noun()}s",
            lambda: f"Lessons from {rng.choice(PEOPLE_GROUPS)}",
            lambda: "What comes next",
            lambda: f"The {self.noun()} is not the project",
        )
        text = rng.choice(forms)()
        return text[0].upper() + text[1:]


# ------------------------------------------------------------------ blocks


def bullet_list(w: Writer) -> str:
    rng = w.rng
    numbered = rng.random() < 0.4
    lines = []
    for number in range(1, rng.randint(3, 6) + 1):
        marker = f"{number}." if numbered else "-"
        item = w.sentence()
        if rng.random() < 0.3:
            item = f"**{w.noun().capitalize()}**: {item[0].lower()}{item[1:]}"
        lines.append(f"{marker} {item}")
        if rng.random() < 0.07:  # a nested list, indented four spaces as Python-Markdown wants
            for _ in range(rng.randint(2, 3)):
                lines.append(f"    - {w.sentence()}")
    return "\n".join(lines)


def block_quote(w: Writer, people: Sequence[Person]) -> str:
    rng = w.rng
    lines = [f"> {w.sentence()} {w.sentence()}"]
    if rng.random() < 0.5:
        lines += [">", f"> {w.sentence()}"]
    if rng.random() < 0.6:
        lines += [">", f"> — {rng.choice(people).name}, {rng.choice(TEAMS)}"]
    return "\n".join(lines)


def table(w: Writer) -> str:
    rng = w.rng
    first = rng.choice(("Configuration", "Team", "Quarter", "Region", "Option", "Approach"))
    columns = rng.sample(["Cases", "Energy (kWh)", "Error rate", "Cost", "Requests",
                          "Hours", "Appeals upheld", "Reviewers"], rng.randint(2, 4))
    lines = [f"| {first} | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for _ in range(rng.randint(3, 6)):
        label = f"{w.adjective().capitalize()} {w.noun()}"
        cells = []
        for column in columns:
            if "rate" in column or "upheld" in column:
                cells.append(f"{rng.uniform(0.5, 40):.1f}%")
            elif column == "Cost":
                cells.append(f"£{rng.randint(200, 90_000):,}")
            else:
                cells.append(f"{rng.randint(3, 12_000):,}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def code_block(w: Writer) -> str:
    rng = w.rng
    lang = rng.choice(CODE_LANGS)
    noun = slugify(w.noun()).replace("-", "_")
    other = slugify(w.noun()).replace("-", "_")
    if lang == "python":
        body = (f"def {noun}_within_budget(records: list[dict[str, float]]) -> bool:\n"
                f'    """True when the {noun.replace("_", " ")} stays under the agreed '
                f'limit."""\n'
                f"    total = sum(r[\"{other}\"] for r in records)\n"
                f"    return total <= {rng.randint(10, 5000)}")
    elif lang == "yaml":
        body = (f"{noun}:\n  owner: {slugify(rng.choice(TEAMS))}\n"
                f"  retention_days: {rng.choice((30, 90, 180, 365))}\n"
                f"  lawful_basis: {rng.choice(('consent', 'contract', 'legitimate-interest'))}\n"
                f"  review_every: {rng.choice(('quarter', 'year'))}")
    elif lang == "sql":
        body = (f"SELECT team, count(*) AS {noun}_count\nFROM {other}_events\n"
                f"WHERE created_at < now() - interval '{rng.randint(7, 400)} days'\n"
                "GROUP BY team\nORDER BY 2 DESC;")
    elif lang == "toml":
        body = (f"[{noun}]\nenabled = {rng.choice(('true', 'false'))}\n"
                f"threshold = {rng.uniform(0.1, 0.99):.2f}\n"
                f'contact = "{slugify(rng.choice(TEAMS))}@example.org"')
    else:
        body = "\n".join(f"{i}. {w.sentence(inline=False)}" for i in range(1, 4))
    return f"```{lang}\n{body}\n```"


def words_in(markdown: str) -> int:
    return len(markdown.split())


def piece_body(w: Writer, people: Sequence[Person], target: int) -> str:
    """A piece of about ``target`` words: intro, then sections with a mix of blocks."""
    rng = w.rng
    blocks = [w.paragraph(3, 5)]
    if rng.random() < 0.5:
        blocks.append(w.paragraph(2, 4))
    has_table = rng.random() < 0.25
    has_code = rng.random() < 0.2
    while words_in("\n\n".join(blocks)) < target:
        blocks.append(f"## {w.heading()}")
        blocks.append(w.paragraph())
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            if roll < 0.25:
                blocks.append(bullet_list(w))
            elif roll < 0.35:
                blocks.append(block_quote(w, people))
            elif roll < 0.45:
                blocks.append(f"### {w.heading()}")
                blocks.append(w.paragraph(2, 4))
            elif has_table and roll < 0.55:
                blocks.append(w.paragraph(1, 2))
                blocks.append(table(w))
                has_table = False
            elif has_code and roll < 0.65:
                blocks.append(w.paragraph(1, 2))
                blocks.append(code_block(w))
                has_code = False
            else:
                blocks.append(w.paragraph())
            if words_in("\n\n".join(blocks)) >= target:
                break
    if w.footnotes:
        blocks.append("\n".join(f"[^{i}]: {note}" for i, note in enumerate(w.footnotes, 1)))
    return "\n\n".join(blocks) + "\n"


# ------------------------------------------------------------------ files


def make_people(rng: Random, count: int = 60) -> list[Person]:
    names: list[str] = []
    while len(names) < count:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in names:
            names.append(name)
    return [Person(slugify(name), name, TEAMS[i % len(TEAMS)]) for i, name in enumerate(names)]


def contributors_toml(rng: Random, people: Sequence[Person]) -> str:
    out = ["# Who writes for the synthetic newsletter (bench/generate.py).", ""]
    for person in people:
        out += [f"[{person.id}]", f'name = "{person.name}"', f'team = "{person.team}"']
        if rng.random() < 0.7:
            out.append(f'pronouns = "{rng.choice(PRONOUNS)}"')
        if rng.random() < 0.5:
            out.append(f'link = "https://example.org/people/{person.id}"')
        out.append("")
    return "\n".join(out)


def issue_ids(count: int) -> list[str]:
    """``count`` consecutive issue ids, newest (2026-12-solstice) first."""
    year, month = NEWEST
    ids = []
    for _ in range(count):
        ids.append(f"{year}-{month:02d}-{KIND[month]}")
        year, month = (year - 1, 12) if month == 3 else (year, month - 3)
    return ids


def write_issue(folder: Path, rng: Random, people: Sequence[Person], pieces: int) -> None:
    folder.mkdir(parents=True)
    w = Writer(rng)
    titles: list[str] = []
    files: list[str] = []
    while len(titles) < pieces:
        title = w.title()
        name = f"{slugify(title)}.md"
        if name not in files:
            titles.append(title)
            files.append(name)

    theme = w.title()
    editors = rng.sample(list(people), 2)
    letter = [w.paragraph(3, 5) for _ in range(rng.randint(2, 4))]
    letter.append(f"In this issue: *{titles[0]}*, *{titles[1]}* and {pieces - 2} more pieces.")
    letter.append(f"*{editors[0].name} and {editors[1].name}, editors*")
    if w.footnotes:
        letter.append("\n".join(f"[^{i}]: {n}" for i, n in enumerate(w.footnotes, 1)))
    (folder / "issue.md").write_text(
        "---\n"
        f"title: {yaml_text(theme)}\n"
        f"summary: {yaml_text(w.sentence(inline=False) + ' ' + w.sentence(inline=False))}\n"
        f"editors: {yaml_list([p.name for p in editors])}\n"
        "---\n\n" + "\n\n".join(letter) + "\n",
        encoding="utf-8",
    )

    for index, (title, name) in enumerate(zip(titles, files, strict=True)):
        siblings = [f for f in files if f != name]
        pw = Writer(rng, siblings)
        chosen = rng.sample(list(people), rng.choice((1, 1, 1, 2, 2, 3)) + 1)
        authors, reviewer = chosen[:-1], chosen[-1]
        meta = [
            f"title: {yaml_text(title)}",
            f"authors: {yaml_list([p.name for p in authors])}",
            f"section: {SECTIONS[index % len(SECTIONS)]}",
            f"summary: {yaml_text(pw.sentence(inline=False))}",
            "status: ready",
        ]
        if rng.random() < 0.4:
            meta.append(f"order: {rng.choice((10, 20, 30, 40))}")
        meta.append(f"tags: {yaml_list(rng.sample(TAGS, rng.randint(1, 4)))}")
        meta.append(f"reviewed_by: [{reviewer.name}]")
        if rng.random() < 0.3:
            meta.append("ai_disclosure: Drafted without AI tools")
        body = piece_body(pw, people, rng.randint(MIN_WORDS, MAX_WORDS - 250))
        (folder / name).write_text("---\n" + "\n".join(meta) + "\n---\n\n" + body,
                                   encoding="utf-8")


def generate(out: Path, issues: int = 40, pieces: int = 25, seed: int = 1) -> list[str]:
    """Write the synthetic newsletter into ``out`` (which must not exist or be empty).

    Returns the issue ids, newest first.
    """
    if issues < 1 or pieces < 2:
        raise ValueError("need at least 1 issue and 2 pieces per issue")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    rng = Random(seed)
    people = make_people(rng)
    (out / "newsletter.toml").write_text(NEWSLETTER_TOML, encoding="utf-8")
    (out / "contributors.toml").write_text(contributors_toml(rng, people), encoding="utf-8")
    ids = issue_ids(issues)
    for issue_id in ids:
        write_issue(out / "issues" / issue_id, rng, people, pieces)
    return ids


def next_issue_id(newest: str) -> str:
    """The issue id after ``newest`` (``2026-12-solstice`` -> ``2027-03-equinox``)."""
    year, month = int(newest[:4]), int(newest[5:7])
    year, month = (year + 1, 3) if month == 12 else (year, month + 3)
    return f"{year}-{month:02d}-{KIND[month]}"


def add_next_issue(out: Path, pieces: int = 25, seed: int = 1) -> str:
    """Add the issue after the newest one to a newsletter that :func:`generate` wrote, with
    ``pieces`` ready pieces by the same contributors; returns its id. The same arguments
    always give the same files."""
    if pieces < 2:
        raise ValueError("need at least 2 pieces per issue")
    folders = sorted(p.name for p in (out / "issues").iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f"{out} has no issue to follow")
    issue_id = next_issue_id(folders[-1])
    people = make_people(Random(seed))  # generate() draws the people first, from the seed
    write_issue(out / "issues" / issue_id, Random(f"{seed}-{issue_id}"), people, pieces)
    return issue_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", type=Path, metavar="OUT_DIR",
                        help="folder to create (with --next: the newsletter to add to)")
    parser.add_argument("--issues", type=int, default=40, help="how many issues (default 40)")
    parser.add_argument("--pieces", type=int, default=25,
                        help="pieces per issue (default 25)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--next", action="store_true",
                        help="add the issue after the newest one to OUT_DIR, a newsletter "
                             "this script wrote with the same --seed (--issues is ignored)")
    args = parser.parse_args(argv)
    try:
        if args.next:
            if not (args.out / "issues").is_dir():
                raise ValueError(f"{args.out} has no issues/ folder: generate it first")
            added = add_next_issue(args.out, args.pieces, args.seed)
            print(f"added {added} ({args.pieces} pieces) to {args.out}")
            return 0
        ids = generate(args.out, args.issues, args.pieces, args.seed)
    except (ValueError, FileExistsError) as exc:
        parser.error(str(exc))
    print(f"wrote {len(ids)} issues x {args.pieces} pieces to {args.out} "
          f"({ids[-1]} .. {ids[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
