"""Sessions: `nox` runs lint and tests, which type-checks first (what CI runs); `nox -s bench` runs the
benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]  # `tests` type-checks first, in its own environment
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYTHON = "3"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.8")
    session.run("ruff", "check", "redisq", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "redisq", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """`nox -s typecheck`: mypy alone (the default run does it in `tests`)."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "redisq")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    # mypy here rather than in a session of its own: one install of the dev environment, not two (a
    # minute of CI's 25).
    session.run("mypy", "--strict", "redisq")
    # The dashboard's browser tests drive a Chromium: the one found here, else one installed now (Debian's
    # package as root, else Playwright's download); without one this fails, saying what to do.
    session.run("python", "-m", "tests.browserkit")
    # Prometheus' linter of the metrics exposition: found, else installed (Debian's package, as root).
    found = session.run("python", "-m", "tests.promtoolkit", silent=True) or ""
    print(found.strip())
    env = {"REDISQ_TEST_PROMTOOL": "required"} if "promtool at" in found else {}
    session.run("pytest", *session.posargs, env=env)


# The peers that `bench` measures redisq against, each at its latest release.
PEERS = (
    "saq>=0.26",
    "rq>=3.0",
    "celery[redis]>=5.7",
    "taskiq>=0.13",
    "taskiq-redis>=1.2",
    "dramatiq[redis]>=2.2",
    "huey>=3.5",
    "bullmq>=3.4",
    "streaq>=7.2",
)
# arq 0.28 requires redis-py < 6, which kombu[redis] 5.7 (>= 6.4) and taskiq-redis 1.2 (>= 8) exclude: it
# gets an environment of its own, inside the session's, and the harness runs its figures from there.
ARQ = "arq>=0.28"


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Not part of the test run: see benchmarks/README.md. Arguments go to `python -m benchmarks`."""
    session.install("-e", ".[dev]", *PEERS)
    arq_env = Path(str(session.virtualenv.location)) / "arq-env"
    arq_python = arq_env / "bin" / "python"
    if not arq_python.exists():
        session.run("python", "-m", "venv", str(arq_env))
    session.run(str(arq_python), "-m", "pip", "install", "-q", "--upgrade", ARQ, external=True)
    env = {"BENCH_PYTHON_ARQ": str(arq_python), "BENCH_NODE_MODULES": bench_node(session)}
    session.run("python", "-m", "benchmarks", *session.posargs, env=env)


def bench_node(session: nox.Session) -> str:
    """BullMQ on Node's packages, at their latest releases, in `.nox/bench/node` (its node_modules is
    returned). Without npm nothing is installed: the harness then gives BullMQ on Node a failure row."""
    node_dir = Path(str(session.virtualenv.location)) / "node"
    if shutil.which("npm") is None:
        session.warn("npm is not on PATH: BullMQ on Node will be a failure row")
        return str(node_dir / "node_modules")
    node_dir.mkdir(exist_ok=True)
    shutil.copy(Path("benchmarks/peers/bullmq_node/package.json"), node_dir / "package.json")
    npm = ("npm", "install", "--prefix", str(node_dir), "--no-audit", "--no-fund")
    session.run(*npm, "bullmq@latest", "ioredis@latest", external=True)  # upgraded as pip's --upgrade
    return str(node_dir / "node_modules")
