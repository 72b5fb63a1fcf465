"""The README's settings table names every setting there is."""

from pathlib import Path

from domain.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_lists_every_setting():
    missing = [
        f"CVMS_{name.upper()}" for name in Settings.model_fields if f"`CVMS_{name.upper()}`" not in README
    ]
    assert missing == []


def test_readme_quick_start_is_the_two_make_commands():
    assert "make dev" in README and "make test" in README
