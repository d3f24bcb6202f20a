"""One URL decides the topology (issue 13): what each form of URL names, and the mistakes refused."""

from __future__ import annotations

import pytest

from redisq import RedisQ
from redisq.core.errors import ConfigurationError
from redisq.core.topology import parse_url


@pytest.mark.parametrize(
    ("url", "kind", "node_url", "nodes"),
    [
        ("redis://h:6380/2", "single", "redis://h:6380/2", ()),
        (
            "rediss://u:p@h:6380/0?ssl_ca_certs=/ca.pem",
            "single",
            "rediss://u:p@h:6380/0?ssl_ca_certs=/ca.pem",
            (),
        ),
        ("unix:///run/redis.sock?db=1", "single", "unix:///run/redis.sock?db=1", ()),
        ("redis://h:6380/0?cluster=false", "single", "redis://h:6380/0", ()),
        ("redis+cluster://a:7000,b:7001", "cluster", "redis://a:7000", (("a", 7000), ("b", 7001))),
        ("redis://a:7000?cluster=true", "cluster", "redis://a:7000", (("a", 7000),)),
        (
            "rediss+cluster://u:p@a:7000,[::1]:7001/?ssl_ca_certs=/ca.pem",
            "cluster",
            "rediss://u:p@a:7000?ssl_ca_certs=%2Fca.pem",
            (("a", 7000), ("::1", 7001)),
        ),
        ("redis+cluster://a", "cluster", "redis://a:6379", (("a", 6379),)),
    ],
)
def test_each_form_of_url_names_its_topology(
    url: str, kind: str, node_url: str, nodes: tuple[tuple[str, int], ...]
) -> None:
    topology = parse_url(url)
    assert (topology.kind, topology.node_url, topology.nodes) == (kind, node_url, nodes)


def test_a_sentinel_url_names_the_sentinels_the_service_the_database_and_the_sentinels_own_password() -> None:
    t = parse_url("redis+sentinel://app:pw@s1:26379,s2:26380/orders/3?sentinel_password=sp&socket_timeout=2")
    assert (t.kind, t.service, t.nodes) == ("sentinel", "orders", (("s1", 26379), ("s2", 26380)))
    assert (
        t.node_url == "redis://app:pw@s1:26379/3?socket_timeout=2"
    )  # the data nodes' user, not the sentinels'
    assert t.sentinel_auth == {"password": "sp"}
    assert t.describe() == "sentinel s1:26379,s2:26380/orders"
    assert "pw" not in t.describe() and "sp" not in t.describe()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://s1:26379", "names the master"),
        ("redis+cluster://a:7000/3", "only database 0"),
        ("http://h:6379", "unknown Redis URL scheme"),
        ("redis+cluster://a:x", "bad host:port"),
        ("unix:///run/redis.sock?cluster=true", "over TCP"),
        ("redis+cluster://", "names no host"),
    ],
)
def test_a_url_that_names_no_topology_is_refused_at_construction(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RedisQ(url)
