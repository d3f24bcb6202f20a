"""How the browser tests get their Chromium (tests/browserkit.py), with stand-in executables on PATH.

The real run is the nox `tests` session on a machine without one; here, which candidate wins and what
happens when none can be had.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from . import browserkit


def executable(folder: Path, name: str, version: str, status: int = 0) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{version}'\nexit {status}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with nothing but what the test puts in the folder it returns (PATH)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv(browserkit.ENV, raising=False)
    monkeypatch.setattr(browserkit, "SYSTEM", ())
    monkeypatch.setattr(browserkit, "playwright_chromium", lambda: None)
    return folder


def test_a_stub_that_does_not_run_is_passed_over(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(bare, "chromium-browser", "Command requires the chromium snap", status=1)
    assert browserkit.find() is None
    chrome = executable(bare, "google-chrome", "Google Chrome 140.0.7339.80")
    assert browserkit.find() == chrome
    chosen = executable(bare.parent, "mine", "Chromium 139.0.7258.154 built on Debian")
    monkeypatch.setenv(browserkit.ENV, str(chosen))
    assert browserkit.find() == chosen


def test_installs_in_order_and_fails_with_the_fix(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    built = executable(bare.parent, "chromium", "Chromium 1")  # what the second way installs, on PATH
    install = (sys.executable, "-c", f"import shutil; shutil.copy({str(built)!r}, {str(bare)!r})")
    monkeypatch.setattr(browserkit, "installers", lambda: [[("/bin/false",)], [install]])
    run = browserkit._run

    def recorded(*command: str) -> bool:
        ran.append(command[0])
        return run(*command)

    monkeypatch.setattr(browserkit, "_run", recorded)
    assert browserkit.ensure() == bare / "chromium"
    assert ran == ["/bin/false", sys.executable]
    ran.clear()
    assert browserkit.ensure() == bare / "chromium"  # found: nothing installed
    assert ran == []

    (bare / "chromium").unlink()
    monkeypatch.setattr(browserkit, "installers", lambda: [[("/bin/false",)]])
    with pytest.raises(SystemExit) as failed:
        browserkit.ensure()
    assert failed.value.code == browserkit.FIX
    assert "apt-get install chromium" in browserkit.FIX and "playwright install chromium" in browserkit.FIX
