"""`promtool check metrics` for the Prometheus tests: Prometheus' own linter of an exposition.

`nox -s tests` runs this module first: it finds `promtool`, else installs Debian's `prometheus` package when
it runs as root on Debian or Ubuntu (11 s here), and tells the suite, through REDISQ_TEST_PROMTOOL, that
the check is then required. Elsewhere (plain `pytest` on a laptop) the check runs whenever a promtool is on
PATH; the same expositions are always parsed by prometheus_client's parser, whatever happens here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REQUIRED = "REDISQ_TEST_PROMTOOL"  # "required": a promtool must be found, else the check fails


def find() -> str | None:
    return shutil.which("promtool")


def install() -> None:
    if not (Path("/etc/debian_version").exists() and shutil.which("apt-get") and os.geteuid() == 0):
        return
    apt = ("apt-get", "-o", "DPkg::Lock::Timeout=300", "-q")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in ((*apt, "update"), (*apt, "install", "-y", "--no-install-recommends", "prometheus")):
        print("+", " ".join(step), flush=True)
        if subprocess.run(step, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL).returncode:
            return


def check(text: str) -> None:
    """Run `promtool check metrics` on an exposition, when there is a promtool (or fail when it is
    required and missing); every problem it reports fails the test."""
    promtool = find()
    if promtool is None:
        assert os.environ.get(REQUIRED) != "required", "promtool is required here but not on PATH"
        return
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


if __name__ == "__main__":
    if find() is None:
        install()
    found = find()
    print(f"prometheus tests: promtool at {found}" if found else "prometheus tests: no promtool", flush=True)
    sys.exit(0)
