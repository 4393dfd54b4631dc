"""One answer to "which issue does this argument mean?" for every command that takes one:
an issue id, or the path of its folder in issues/."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.content import resolve_issue
from pipeline.errors import UsageError

ISSUE = "2026-12-solstice"


def test_an_id_and_the_path_of_its_folder_are_the_same_issue(sample_copy: Path) -> None:
    config = load_config(sample_copy)
    by_id = resolve_issue(ISSUE, config)
    assert str(by_id) == ISSUE
    assert resolve_issue(str(sample_copy / "issues" / ISSUE), config) == by_id
    assert resolve_issue(str(sample_copy / "issues" / ISSUE) + "/", config) == by_id


def test_an_issue_without_a_folder_is_bad_usage_unless_it_may_be_new(sample_copy: Path) -> None:
    config = load_config(sample_copy)
    with pytest.raises(UsageError, match=r"no issue folder .*existing issues: .*2026-12-solstice"):
        resolve_issue("2031-03-equinox", config)
    assert str(resolve_issue("2031-03-equinox", config, must_exist=False)) == "2031-03-equinox"
    coming = str(sample_copy / "issues" / "2031-03-equinox")
    assert str(resolve_issue(coming, config, must_exist=False)) == "2031-03-equinox"
    with pytest.raises(UsageError, match="no such issue folder"):
        resolve_issue(coming, config)


def test_a_folder_outside_issues_or_a_wrong_id_is_bad_usage(sample_copy: Path,
                                                           tmp_path: Path) -> None:
    config = load_config(sample_copy)
    elsewhere = tmp_path / ISSUE
    elsewhere.mkdir()
    for must_exist in (True, False):
        with pytest.raises(UsageError, match="is not a folder of"):
            resolve_issue(str(elsewhere), config, must_exist=must_exist)
    with pytest.raises(UsageError, match=r"^--issue 2026-12-soltice: "):
        resolve_issue("2026-12-soltice", config, must_exist=False, option="--issue")
    with pytest.raises(UsageError) as plain:
        resolve_issue("2026-12-soltice", config)
    assert not str(plain.value).startswith("2026-12-soltice")
