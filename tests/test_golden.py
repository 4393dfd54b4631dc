"""The sample newsletter builds to exactly the committed golden outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden import GOLDEN, REPO, build_sample


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return build_sample(tmp_path_factory.mktemp("golden"))


def test_golden_files_cover_every_output(built: dict[str, bytes]) -> None:
    committed = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}
    assert committed == set(built), "run `python -m tests.golden` to regenerate"


@pytest.mark.parametrize("name", sorted(p.relative_to(GOLDEN).as_posix()
                                        for p in GOLDEN.rglob("*") if p.is_file()))
def test_output_matches_golden(built: dict[str, bytes], name: str) -> None:
    expected = (GOLDEN / name).read_bytes()
    actual = built[name]
    if actual != expected:
        # Show the first differing line, not two 40 KB blobs.
        for number, (a, e) in enumerate(zip(actual.decode().splitlines(),
                                            expected.decode().splitlines(), strict=False), 1):
            assert a == e, f"{name}:{number} differs; run `python -m tests.golden` if intended"
        assert len(actual) == len(expected), f"{name}: length differs"


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_the_committed_feeds_are_current(built: dict[str, bytes], name: str) -> None:
    """The repository's own feeds/ are what building the sample writes (the Quick start
    leaves git status clean)."""
    committed = (REPO / "feeds" / name).read_bytes()
    assert committed == built[f"feeds/{name}"], \
        f"feeds/{name} is stale: run `python -m tests.golden` and commit feeds/"


def test_golden_is_deterministic(tmp_path: Path, built: dict[str, bytes]) -> None:
    again = build_sample(tmp_path)
    assert again == built
