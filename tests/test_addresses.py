"""The email addresses of newsletter.toml and contributors.toml, judged by email-validator and
remembered once found valid (pipeline.addresses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.addresses import MEMO, Addresses, installed
from pipeline.config import load_config
from pipeline.contributors import load_contributors
from pipeline.errors import ContentError, Problems
from pipeline.options import address_of

from .conftest import Scratch

LOADS = """
import sys
from pathlib import Path
from pipeline.config import load_config
from pipeline.contributors import load_contributors
from pipeline.errors import Problems
root = Path(sys.argv[1])
load_config(root)
load_contributors(root, Problems())
print("email_validator" in sys.modules)
"""


def loads_the_validator(root: Path) -> bool:
    """Whether a fresh process that loads the root's configuration and contributors imports
    email-validator (this process has imported it long ago)."""
    done = subprocess.run([sys.executable, "-c", LOADS, str(root)], capture_output=True,
                          text=True, check=True)
    return done.stdout.strip() == "True"


def test_addresses_found_valid_are_not_judged_again(scratch: Scratch) -> None:
    scratch.write("contributors.toml", '[ada]\nname = "Ada Example"\nteam = "Policy"\n'
                  'email = "ada@example.org"\n')
    memo = scratch.root / MEMO
    memo.unlink(missing_ok=True)
    assert loads_the_validator(scratch.root)
    kept = json.loads(memo.read_text("utf-8"))
    assert kept["library"] == installed("email_validator")
    config = load_config(scratch.root)
    assert {address_of(config.sender), "ada@example.org"} <= set(kept["valid"])
    assert not loads_the_validator(scratch.root)
    # Kept by another install of the library: judged again, and kept anew.
    memo.write_text(json.dumps({**kept, "library": "elsewhere"}), encoding="utf-8")
    assert loads_the_validator(scratch.root)
    assert json.loads(memo.read_text("utf-8")) == kept
    for garbled in ("{not json", '{"library": 1}', '["a@example.org"]'):
        memo.write_text(garbled, encoding="utf-8")
        assert loads_the_validator(scratch.root)
    assert not loads_the_validator(scratch.root)


def test_an_invalid_address_is_reported_every_time_and_never_kept(scratch: Scratch) -> None:
    config = scratch.root / "newsletter.toml"
    text = config.read_text("utf-8")
    assert "[email]" in text
    config.write_text(text.replace("[email]\n", '[email]\neditors_address = "editors@@x"\n'),
                      encoding="utf-8")
    for _ in range(2):
        with pytest.raises(ContentError) as failed:
            load_config(scratch.root)
        message = str(failed.value.problems[0])
        assert "'email.editors_address' 'editors@@x' is not a valid email address" in message
    assert "editors@@x" not in (scratch.root / MEMO).read_text("utf-8")
    scratch.write("contributors.toml", '[ada]\nname = "Ada Example"\nteam = "Policy"\n'
                  'email = "ada at example.org"\n')
    for _ in range(2):
        problems = Problems()
        load_contributors(scratch.root, problems)
        assert "'email' of [ada] is not an email address such as ada@example.org" in \
            problems.items[0].message
    assert "ada at example.org" not in (scratch.root / MEMO).read_text("utf-8")


def test_a_memo_that_cannot_be_written_only_means_judging_again(tmp_path: Path) -> None:
    blocked = tmp_path / "root"
    blocked.mkdir()
    (blocked / ".cache").write_text("a file where the folder would be", encoding="utf-8")
    addresses = Addresses(blocked)
    assert addresses.problem("ada@example.org") is None
    assert addresses.problem("ada@@example.org") is not None
    addresses.save()  # cannot write: nothing happens
    assert Addresses(None).problem("ada@example.org") is None
