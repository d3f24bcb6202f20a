"""The Chromium that the dashboard's browser tests drive: find one on this machine, else install one.

`find()` looks, in order, at $REDISQ_TEST_CHROMIUM, the PATH, Debian's /usr/bin/chromium and the browser
of Playwright's own cache, and takes the first that answers `--version`. The browser fixture only finds;
the nox `tests` session runs this module before pytest (`python -m tests.browserkit`), which also installs
one when none is found: Debian's package when root on Debian or Ubuntu, else `playwright install
chromium`. Without either, it fails with `FIX` (issue 11: the README's test command must do all the
set-up on a fresh machine).

Standard library only, apart from asking Playwright where its own browser lives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ENV = "REDISQ_TEST_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
SYSTEM = (Path("/usr/bin/chromium"),)
FIX = (
    "the dashboard's browser tests need Chromium, and none was found (looked at $REDISQ_TEST_CHROMIUM, "
    f"{', '.join(NAMES)} on PATH, /usr/bin/chromium and Playwright's cache). Run the tests with "
    "`nox -s tests`, which installs one, or install one yourself: `apt-get install chromium` (as root on "
    "Debian or Ubuntu) or `python -m playwright install chromium`; or point REDISQ_TEST_CHROMIUM at one."
)


def playwright_chromium() -> Path | None:
    """Where the Chromium of the installed Playwright's own version is, installed or not."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ModuleNotFoundError:
        return None
    try:
        with sync_playwright() as playwright:
            return Path(playwright.chromium.executable_path)
    except Error:  # e.g. called with an asyncio loop running in this thread
        return None


def candidates() -> Iterator[Path]:
    if chosen := os.environ.get(ENV):
        yield Path(chosen)
    for name in NAMES:
        if found := shutil.which(name):
            yield Path(found)
    yield from SYSTEM
    if own := playwright_chromium():
        yield own


def usable(executable: Path) -> bool:
    """Whether it runs at all: Ubuntu's `chromium-browser` may be a stub that only asks for the snap."""
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        return False
    try:
        answer = subprocess.run(
            [str(executable), "--version"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0 and b"chrom" in answer.stdout.lower()


def find() -> Path | None:
    return next((path for path in candidates() if usable(path)), None)


def _run(*command: str) -> bool:
    print("+", " ".join(command), flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(command, env=env, stdin=subprocess.DEVNULL).returncode == 0
    except OSError as exc:
        print(exc, file=sys.stderr)
        return False


def installers() -> Iterator[list[tuple[str, ...]]]:
    """The ways to get a browser here, each a list of commands, in the order they are worth trying."""
    debian = Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None
    if debian and os.geteuid() == 0:
        # Lock::Timeout: wait for another apt (an unattended upgrade, a parallel session) instead of failing.
        apt = ("apt-get", "-o", "DPkg::Lock::Timeout=300", "-q")
        yield [(*apt, "update"), (*apt, "install", "-y", "--no-install-recommends", "chromium")]
    # Downloads a build from Playwright's own servers: fails where only package registries are reachable.
    yield [(sys.executable, "-m", "playwright", "install", "chromium")]


def ensure() -> Path:
    """A usable Chromium, installed first if there is none; SystemExit with `FIX` when none can be had."""
    found = find()
    for steps in installers():
        if found is not None:
            break
        if all(_run(*step) for step in steps):
            found = find()
    if found is None:
        raise SystemExit(FIX)
    return found


if __name__ == "__main__":
    print(f"browser tests: Chromium at {ensure()}", flush=True)
