"""What a Redis user needs to run redisq: the commands, on which keys and channels.

`calls` lists each command redisq sends, with a key (or channel) of the kind it sends it on: inside the
Lua scripts on a queue's keys, and from clients and workers. From it come the README's ACL rule
(`acl_rule`) and the check that a worker runs at start and a client before its first job on a queue
(`preflight`): a user without one of them fails at once with one message naming what is missing,
instead of logging refusals in a loop, or having a script refused half-way (Redis checks ACLs command by
command inside a script, and keeps what the script wrote before the refusal; issue 11). Every key and
channel starts with the prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import RedisPermissionDenied
from .keys import GlobalKeys, QueueKeys
from .operation import Op, ScriptCall
from .redis_errors import PERMISSION_HINT

# Read when allowed, to check the eviction policy: a user without them loses only that check.
OPTIONAL_COMMANDS = ("info", "config|get")
# What a Cluster client sends besides: the slot map (CLUSTER SLOTS), the key positions of commands
# (COMMAND, read once), and ASKING, which follows a key to the node a resharding moves it to.
CLUSTER_COMMANDS = ("cluster|slots", "command", "asking")


def calls(
    queues: Sequence[QueueKeys], g: GlobalKeys, worker: bool = True, wait: bool = False
) -> list[tuple[str, ...]]:
    """`worker=False`: what a client that enqueues, inspects and administers needs (no BLPOP, no
    heartbeats)."""
    out: list[tuple[str, ...]] = [("PING",), ("EVALSHA", "0" * 40, "1", queues[0].levels)]
    out += [("SCRIPT", "LOAD", "return 1"), ("SCRIPT", "EXISTS", "0" * 40)]
    for k in queues:
        job, unique, ready = k.job("0"), k.part("unique:0"), k.ready(0)
        out += [
            ("TYPE", job), ("EXISTS", job), ("GET", unique), ("SET", unique, "1"), ("DEL", job),
            ("EXPIRE", job, "1"), ("PERSIST", job),
            ("RENAME", job, k.part("corrupt:0")), ("HGET", job, "f"), ("HMGET", job, "f"),
            ("HSET", job, "f", "v"), ("HDEL", job, "f"), ("HINCRBY", k.stats, "f", "1"), ("HGETALL", job),
            ("LPUSH", k.wake, "1"), ("LTRIM", k.wake, "0", "0"),
            ("ZADD", k.queued, "1", "m"), ("ZREM", k.queued, "m"), ("ZRANGE", k.queued, "0", "0"),
            ("ZREVRANGE", k.queued, "0", "0"), ("ZCARD", k.queued), ("ZSCORE", k.queued, "m"),
            ("ZREMRANGEBYRANK", k.queued, "0", "0"), ("ZREMRANGEBYSCORE", k.queued, "0", "0"),
            ("ZCOUNT", k.queued, "0", "0"), ("ZREVRANGEBYSCORE", k.levels, "1", "0", "LIMIT", "0", "1"),
            ("RPUSH", ready, "m"), ("LPUSH", ready, "m"), ("LRANGE", ready, "0", "0"),
            ("LTRIM", ready, "0", "0"), ("LREM", ready, "-1", "m"), ("LLEN", ready), ("LINDEX", ready, "0"),
            ("SPUBLISH", k.done_channel("0"), "x"), ("SSUBSCRIBE", k.done_channel("0")),
            ("SUNSUBSCRIBE", k.done_channel("0")),
            ("SPUBLISH", k.abort_channel("w"), "x"),  # job.abort() of a running job tells its worker
            # metrics over time (issue 17): written by finish.lua, read by stats.lua and the history
            ("BITFIELD", k.metrics("m", 0), "INCRBY", "u32", "#0", "1"),
            ("GETRANGE", k.metrics("m", 0), "0", "7"),
        ]  # fmt: skip
        if worker:
            out += [
                ("BLPOP", k.wake, "1"),
                ("SSUBSCRIBE", k.abort_channel("w")),
                ("SUNSUBSCRIBE", k.abort_channel("w")),
            ]
    out += [
        ("SADD", g.queues, "q"),
        ("SMEMBERS", g.queues),
        ("ZRANGE", g.workers, "0", "0"),
        ("MGET", g.worker("w")),
    ]
    if wait:  # Settings.replica_acks: an enqueue waits for replicas
        out.append(("WAIT", "1", "0"))
    if not worker:
        return out
    out += [
        ("ZADD", g.workers, "1", "w"), ("ZREMRANGEBYSCORE", g.workers, "0", "0"), ("ZREM", g.workers, "w"),
        ("SET", g.worker("w"), "1"), ("DEL", g.worker("w")),
    ]  # fmt: skip
    return out


def _name(call: tuple[str, ...]) -> str:
    return f"{call[0]}|{call[1]}".lower() if call[0] == "SCRIPT" else call[0].lower()


def commands() -> list[str]:
    """Every command redisq needs, as ACL names (`script|load`)."""
    return sorted({_name(c) for c in calls([QueueKeys("redisq", "q")], GlobalKeys("redisq"))})


def acl_rule(
    prefix: str = "redisq",
    user: str = "app",
    password: str = "<password>",
    cluster: bool = False,
    replica_acks: bool = False,
) -> str:
    """The `ACL SETUSER` command that grants exactly what redisq needs under `prefix` (on every node of
    a Cluster, with `cluster`; WAIT too, with `Settings.replica_acks`)."""
    extra = (*(CLUSTER_COMMANDS if cluster else ()), *(("wait",) if replica_acks else ()))
    granted = " ".join(f"+{c}" for c in (*commands(), *OPTIONAL_COMMANDS, *extra))
    return (
        f"ACL SETUSER {user} on >{password} resetkeys ~{prefix}:* resetchannels &{prefix}:* -@all {granted}"
    )


def preflight_call(
    queues: Sequence[QueueKeys], g: GlobalKeys, worker: bool, wait: bool = False
) -> ScriptCall:
    """Asks Redis which of `calls` this user may not run (nothing, before Redis 7: it cannot tell)."""
    flat: list[str] = []
    for call in calls(queues, g, worker, wait):
        flat += [str(len(call)), *call]
    return ScriptCall("preflight", (queues[0].levels,), flat)


def check(reply: Sequence[bytes]) -> None:
    """Raise RedisPermissionDenied naming what the user may not run (the reply of `preflight_call`)."""
    refused = [r.decode() for r in reply]
    if refused:
        more = " ..." if len(refused) > 8 else ""
        raise RedisPermissionDenied(
            f"the Redis user may not run {len(refused)} command(s) redisq needs: "
            f"{', '.join(refused[:8])}{more}; {PERMISSION_HINT}"
        )


def preflight(queues: Sequence[QueueKeys], g: GlobalKeys, worker: bool = True) -> Op[None]:
    """Raise RedisPermissionDenied if this Redis user may not run a command that redisq will send."""
    check((yield preflight_call(queues, g, worker)))
