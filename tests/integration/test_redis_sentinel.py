"""Redis through Sentinel (harbor_py.core.redis_conn): a real master, replica and three sentinels.
The Django cache and the pull-time aggregation write to whichever server the sentinels name
master, and keep working once the master is killed and its replica promoted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.core.cache import cache

from harbor_py.core import redis_conn
from harbor_py.core.runtime import SentinelConfig
from registry import pulls
from tests.redis_sentinel import MASTER_NAME, SentinelGroup, running_sentinel_group

DB = 3


@pytest.fixture
def group(tmp_path: Path, settings) -> Iterator[SentinelGroup]:
    with running_sentinel_group(tmp_path / "redis") as group:
        settings.REDIS_SENTINEL = SentinelConfig.parse(group.sentinel_list, MASTER_NAME, str(DB))
        settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens: Sentinel or nothing
        yield group


def _on(port: int, key: str) -> bytes | None:
    return redis.Redis(port=port, db=DB).get(key)


def test_settings_from_the_environment():
    config = SentinelConfig.parse("10.0.0.1:26380, [fd00::2]:26381,s3", "", "4", "pw")
    assert config.sentinels == (("10.0.0.1", 26380), ("fd00::2", 26381), ("s3", 26379))
    assert (config.master, config.db, config.password) == ("harbor", 4, "pw")
    assert config.celery_broker_url() == (
        "sentinel://:pw@10.0.0.1:26380/4;sentinel://:pw@[fd00::2]:26381/4;sentinel://:pw@s3:26379/4"
    )
    assert config.celery_transport_options() == {"master_name": "harbor"}


def test_cache_and_pull_aggregation_follow_a_failover(group: SentinelGroup):
    master = group.master_port()
    cache.set("failover-probe", "before", 60)
    assert cache.get("failover-probe") == "before"
    assert redis.Redis(port=master, db=DB).exists(cache.make_key("failover-probe"))
    pulls.record_pull(repository_id=1, artifact_id=7)
    assert redis.Redis(port=master).wait(1, 2000) == 1  # the replica has it all

    killed = group.kill_master()
    # Issued while the sentinels still name the dead master: it waits for the promotion.
    assert cache.get("failover-probe") == "before"
    promoted, seconds = group.wait_promoted(killed)
    assert promoted != killed and seconds < 15
    cache.set("failover-probe", "after", 60)
    assert cache.get("failover-probe") == "after"
    pulls.record_pull(repository_id=1, artifact_id=8)
    client = redis.Redis(port=promoted, db=DB)
    assert set(client.hkeys(pulls._key("artifact"))) == {b"7", b"8"}
    assert redis_conn.client(timeout=2).ping()


def test_the_health_check_does_not_wait_for_a_failover(group: SentinelGroup):
    redis_conn.client(timeout=1, wait_for_failover=False).ping()
    group.kill_master()
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        redis_conn.client(timeout=1, wait_for_failover=False).ping()
    assert time.monotonic() - started < 1
