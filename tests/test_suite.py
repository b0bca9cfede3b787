"""The suite itself: a test whose program is missing fails (a skip would pass CI unchecked)."""

from __future__ import annotations

import pytest

import conftest


class _Item:
    def __init__(self, *tools):
        self.marks = [pytest.mark.needs(*tools).mark]

    def iter_markers(self, name):
        return [m for m in self.marks if m.name == name]


def test_a_missing_program_fails_its_test_unless_skipping_is_asked(monkeypatch):
    monkeypatch.setitem(conftest.TOOLS, "praat", (lambda: False, "Debian's praat: apt-get install praat"))
    monkeypatch.setattr(conftest, "SKIP_MISSING_TOOLS", False)
    with pytest.raises(pytest.fail.Exception, match="needs Debian's praat: apt-get install praat"):
        conftest.pytest_runtest_setup(_Item("praat"))
    monkeypatch.setattr(conftest, "SKIP_MISSING_TOOLS", True)
    with pytest.raises(pytest.skip.Exception):
        conftest.pytest_runtest_setup(_Item("praat"))


def test_the_programs_make_install_provides_are_here():
    """praat, Chromium and R (lme4, lmerTest, pbkrtest, emmeans): what the marked tests need."""
    missing = [name for name, (found, _) in conftest.TOOLS.items() if not found()]
    assert not missing, f"missing: {missing}; run make install (scripts/system-deps.sh)"
