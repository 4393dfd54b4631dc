"""``contributors.toml``: who writes for the newsletter, and their teams.

One table per person, keyed by an id that pieces may use instead of the name. Credit is part
of the product: a piece's team comes from here unless the piece says otherwise, and an author
this file does not know is a warning (an error with ``--strict``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .addresses import Addresses
from .config import read_toml
from .errors import Problems, did_you_mean
from .model import Contributor

CONTRIBUTORS_NAME = "contributors.toml"
_KEYS = ("name", "team", "pronouns", "link", "email")  # of each person's table


def load_contributors(root: Path, problems: Problems,
                      remember: bool = True) -> dict[str, Contributor] | None:
    """Contributors by id and by case-folded name, or None when the root has no file (the
    addresses found valid are remembered, :mod:`pipeline.addresses`, unless not
    ``remember``: a process that only reads)."""
    path = root / CONTRIBUTORS_NAME
    if not path.exists():
        return None
    parsed = read_toml(path, problems)
    if parsed is None:
        return {}
    data, lines, columns = parsed
    people: dict[str, Contributor] = {}
    addresses = Addresses(root)
    for person_id, entry in data.items():
        line, column = lines.get(person_id), columns.get(person_id)
        if not isinstance(entry, dict):
            problems.error(path, line, f"'{person_id}' must be a table: [{person_id}] followed "
                           "by name = \"...\" and team = \"...\"", rule="contributors",
                           column=column)
            continue
        good = True
        for key, value in entry.items():
            problem = _entry_problem(person_id, key, value, addresses)
            if problem is not None:
                dotted = f"{person_id}.{key}"
                problems.error(path, lines.get(dotted, line), problem, rule="contributors",
                               column=columns.get(dotted, column))
                good = False
        for key in ("name", "team"):
            if key not in entry:
                problems.error(path, line, f"[{person_id}] has no '{key}'; add {key} = \"...\"",
                               rule="contributors", column=column)
                good = False
        if not good:
            continue
        person = Contributor(
            name=entry["name"].strip(), team=entry["team"].strip(), id=person_id,
            pronouns=entry.get("pronouns"), link=entry.get("link"),
            email=entry["email"].strip() if "email" in entry else None,
        )
        folded = person.name.casefold()
        if folded in people and people[folded].id != person_id:
            problems.error(path, line, f"the name '{person.name}' is also used by "
                           f"[{people[folded].id}]; give each person one entry",
                           rule="contributors")
        people[person_id] = person
        people[folded] = person
    if remember:
        addresses.save()
    return people


def _entry_problem(person_id: str, key: str, value: object,
                   addresses: Addresses) -> str | None:
    """What is wrong with ``key = value`` in the table of ``person_id``, or None."""
    if key not in _KEYS:
        return (f"unknown key '{key}'{did_you_mean(key, _KEYS)} in [{person_id}]; the keys "
                f"are: {', '.join(_KEYS)}")
    if not isinstance(value, str) or not value.strip():
        return f"'{key}' of [{person_id}] must be text in quotes"
    if key == "link" and not re.match(r"^https?://[^\s\"'<>]+$", value.strip()):
        return (f"'link' of [{person_id}] must be an http(s) URL such as "
                "https://example.org/people/ada")
    if key == "email" and (why := addresses.problem(value.strip())):
        return f"'email' of [{person_id}] is not an email address such as ada@example.org: {why}"
    return None




def resolve_people(
    names: Sequence[str], people: dict[str, Contributor] | None, fallback_team: str | None,
    path: Path, line: int | None, problems: Problems, columns: Sequence[int | None] = (),
) -> tuple[Contributor, ...]:
    """Look names (or ids) up in contributors.toml; an unknown one is a warning (at its
    column on ``line``, when ``columns`` gives one for each name)."""
    resolved = []
    for index, name in enumerate(names):
        person = None
        if people is not None:
            person = people.get(name) or people.get(name.casefold())
        if person is None:
            if people is not None:
                known = sorted({p.name for p in people.values()})
                problems.warning(path, line, f"'{name}' is not in {CONTRIBUTORS_NAME}"
                                 f"{did_you_mean(name, known)}; add them there (name and "
                                 "team) so the issue can credit them", rule="unknown-author",
                                 column=columns[index] if index < len(columns) else None)
            person = Contributor(name=name, team=fallback_team, known=False)
        resolved.append(person)
    return tuple(resolved)
