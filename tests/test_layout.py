"""The house keeps its shape (DESIGN.md "Layout"): small modules, and a README that maps every folder."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGES = ("domain", "services", "workflows", "activities", "records", "notifications", "api", "worker")
MAX_LINES = 500


def test_no_module_outside_migrations_is_over_500_lines():
    too_long = {
        str(path.relative_to(ROOT)): lines
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_readme_layout_names_every_folder():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `([^`]+?)/?` \|", layout, re.M))
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    folders -= {"test-artifacts", "cvms.egg-info", "build", "dist", "node_modules"}
    assert folders - named == set()
