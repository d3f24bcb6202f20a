"""redis-py's errors as redisq's own: the ones that mean something to a caller get a typed exception."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis

from .errors import CorruptData, RedisPermissionDenied, RedisQError, RedisUnavailable, UnsupportedRedis
from .topology import cluster_error

UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# Refusals that pass by themselves (a replica or a demoted master refuses writes until a failover ends):
# the operation did not happen, and trying again later is right.
PASSING = (
    redis.exceptions.ReadOnlyError,
    redis.exceptions.MasterDownError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    # A Cluster client gives up after its redirections and TRYAGAIN retries ("TTL exhausted"): a slot
    # still moving or a failover not yet agreed on by every node.
    redis.exceptions.ClusterError,
)
PERMISSION_HINT = "grant it to the user (README, 'Production Redis', has the ACL rule redisq needs)"
# The same, as plain error replies: a master without the replicas `min-replicas-to-write` asks for, and a
# blocked BLPOP ended because its master was just demoted (a Sentinel failover).
_FAILOVER_REPLIES = ("NOREPLICAS ", "UNBLOCKED ")


def redisq_error(exc: redis.exceptions.RedisError) -> RedisQError | None:
    """The typed error for a Redis error that means something to a caller, else None (a bug: re-raise)."""
    if isinstance(exc, (*UNAVAILABLE, *PASSING)):
        return RedisUnavailable(f"Redis is unavailable: {exc}")
    message = str(exc)
    if any(reply in message for reply in _FAILOVER_REPLIES):  # also as a pipeline's "Command # 2 (...) ..."
        return RedisUnavailable(f"Redis refuses this during a failover: {message}")
    if "non local key" in message or "keys that do not hash to the same slot" in message:
        # A Cluster slot moving to another node (resharding): the script read a key that has moved, before
        # its first write (scripts read before they write). Once the slot has moved, calls go there.
        return RedisUnavailable(f"the queue's slot is moving to another Redis node: {message}")
    # Inside a script, Redis and Valkey word an ACL refusal in their own ways (and not as NOPERM).
    acl_refused = ("ACL failure", "can't run this command", "no permissions to run")
    if isinstance(exc, redis.exceptions.NoPermissionError) or any(p in message for p in acl_refused):
        return RedisPermissionDenied(
            f"the Redis user may not do what redisq needs: {message}; {PERMISSION_HINT}"
        )
    if isinstance(exc, redis.exceptions.AskError):  # MOVED is a kind of ASK in redis-py
        return UnsupportedRedis(
            f"Redis answered {exc.args[0] if exc.args else message!r}: the URL points at one node of a Redis "
            "Cluster; give the cluster's URL instead: redis+cluster://host:port (or add ?cluster=true)"
        )
    if message.startswith("REDISQ_CORRUPT "):
        return CorruptData(message.removeprefix("REDISQ_CORRUPT ").split(" script:")[0])
    if message.startswith("WRONGTYPE"):  # a plain command on a key of another type: nothing was written
        return CorruptData(f"a key holds data of another type than redisq keeps there: {message}")
    return None


@contextlib.contextmanager
def redisq_errors() -> Iterator[None]:
    """Raise redis-py's errors that mean something to a caller as redisq's own (see `redisq_error`)."""
    try:
        yield
    except redis.exceptions.RedisError as exc:
        mapped = redisq_error(exc)
        if mapped is None:
            raise
        raise mapped from exc
    except redis.exceptions.RedisClusterException as exc:
        raise cluster_error(exc) from exc
