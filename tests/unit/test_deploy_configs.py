"""deploy/: the templates render for every topology, nginx accepts what they render, and the
compose file is valid (checked statically: no container engine runs on the test machines)."""

from __future__ import annotations

import configparser
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from harbor_py.core.runtime import BASE_DIR, load_runtime
from harbor_py.management.commands.platform import render_configs
from harbor_py.ops.deploy import bridge_legacy_web_socket
from harbor_py.processes import ROLES

COMPOSE = BASE_DIR / "deploy" / "docker-compose.yml"
TOPOLOGY_VARIABLES = (
    "HARBOR_LISTEN",
    "HARBOR_CORE_UPSTREAMS",
    "HARBOR_REGISTRY_UPSTREAMS",
    "HARBOR_WEB_BIND",
    "HARBOR_REGISTRY_BIND",
)


@pytest.fixture
def render(tmp_path, monkeypatch):
    for name in TOPOLOGY_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def render_with(**environment: str) -> tuple[Path, str, dict]:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        rt = load_runtime({"HARBOR_PORT": "18999", "HARBOR_DATA_DIR": str(tmp_path / "data")})
        for directory in (rt.log_dir, rt.run_dir / "nginx-tmp", rt.keys_dir):
            directory.mkdir(parents=True, exist_ok=True)
        (rt.keys_dir / "registry_http_secret").write_text("secret")
        config_dir = render_configs(rt, tmp_path / "config")
        nginx = (config_dir / "nginx.conf").read_text()
        registry = yaml.safe_load((config_dir / "registry.yml").read_text())
        return config_dir, nginx, registry

    return render_with


def _nginx_accepts(config_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/usr/sbin/nginx", "-t", "-c", str(config_dir / "nginx.conf"), "-p", str(config_dir)],
        capture_output=True,
        text=True,
        check=False,
    )


def _servers(nginx: str, upstream: str) -> list[str]:
    block = re.search(rf"upstream {upstream} \{{(.*?)\}}", nginx, re.S)
    assert block, f"no upstream {upstream}"
    return re.findall(r"^\s*server (\S+?)[ ;]", block.group(1), re.M)


def test_the_embedded_default_uses_unix_sockets(render):
    config_dir, nginx, registry = render()
    assert _nginx_accepts(config_dir).returncode == 0, _nginx_accepts(config_dir).stderr
    assert "listen 127.0.0.1:18999;" in nginx
    assert _servers(nginx, "core") == [f"unix:{config_dir.parent}/data/run/web.sock"]
    assert "proxy_next_upstream" not in nginx  # one node: nothing to fail over to
    assert registry["http"]["net"] == "unix"
    assert registry["http"]["addr"].endswith("/run/registry.sock")


def test_two_app_nodes_are_balanced_with_failover(render):
    config_dir, nginx, registry = render(
        HARBOR_LISTEN="127.0.0.1:18999",
        HARBOR_CORE_UPSTREAMS="127.0.0.1:18001,127.0.0.1:18002",
        HARBOR_REGISTRY_UPSTREAMS="127.0.0.1:18101,127.0.0.1:18102",
        HARBOR_REGISTRY_BIND="127.0.0.1:18101",
    )
    result = _nginx_accepts(config_dir)
    assert result.returncode == 0, result.stderr
    assert _servers(nginx, "core") == ["127.0.0.1:18001", "127.0.0.1:18002"]
    assert _servers(nginx, "registry") == ["127.0.0.1:18101", "127.0.0.1:18102"]
    assert "proxy_next_upstream error timeout non_idempotent;" in nginx
    assert (registry["http"]["net"], registry["http"]["addr"]) == ("tcp", "127.0.0.1:18101")


def test_the_compose_topology_uses_service_names(render):
    _, nginx, registry = render(
        HARBOR_LISTEN="0.0.0.0:8080",
        HARBOR_CORE_UPSTREAMS="web:8000",
        HARBOR_REGISTRY_UPSTREAMS="registry:5000",
        HARBOR_REGISTRY_BIND="0.0.0.0:5000",
    )
    assert "listen 0.0.0.0:8080;" in nginx
    assert _servers(nginx, "core") == ["web:8000"]
    assert "access_log /dev/stdout harbor_json" in nginx and "error_log stderr" in nginx
    assert registry["http"]["addr"] == "0.0.0.0:5000"


def _compose_env(tmp_path: Path, *secrets: str) -> Path:
    text = (BASE_DIR / "deploy" / "env.example").read_text()
    names = "|".join(("HARBOR_SECRET_KEY", "POSTGRES_PASSWORD", *secrets))
    text = re.sub(rf"^({names})=$", r"\1=filled-in", text, flags=re.M)
    env = tmp_path / ".env"
    env.write_text(text)
    return env


def test_docker_compose_accepts_the_compose_file(tmp_path):
    assert shutil.which("docker-compose"), "deploy/install-system.sh test installs it"
    env = _compose_env(tmp_path)
    result = subprocess.run(
        ["docker-compose", "--env-file", str(env), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_a_missing_secret(tmp_path):
    env = _compose_env(tmp_path)
    env.write_text(env.read_text().replace("HARBOR_SECRET_KEY=filled-in", "HARBOR_SECRET_KEY="))
    result = subprocess.run(
        ["docker-compose", "--env-file", str(env), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "HARBOR_SECRET_KEY" in result.stderr


def test_every_service_runs_a_role_that_exists():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"postgres", "redis", "migrate", "registry", "web", "worker", "beat", "nginx"} <= set(
        services
    )
    for name, service in services.items():
        command = service.get("command")
        if name in ("postgres", "redis"):
            continue
        assert command[:2] == ["python", "manage.py"], name
        if command[2] == "serve":
            assert command[3] in ROLES, name
        else:
            assert command[2:] == ["platform", "prepare"], name


def test_the_dockerfile_copies_files_that_exist():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (BASE_DIR / source).exists(), source
    assert 'CMD ["python", "manage.py", "serve", "web"]' in dockerfile


def test_gunicorn_workers_freeze_their_start_up_objects_for_the_gc():
    import gc

    from harbor_py.ops import gunicorn_conf

    assert gunicorn_conf.logger_class == "harbor_py.ops.access_log.JsonAccessLogger"
    before = gc.get_freeze_count()
    try:
        gunicorn_conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_nginx_answers_the_challenge_django_would_give(render):
    from harbor_py.core.oci import challenge_header

    config_dir, nginx, _ = render()
    assert _nginx_accepts(config_dir).returncode == 0, _nginx_accepts(config_dir).stderr
    block = re.search(r"location = /v2/ \{(.*?)\n        \}", nginx, re.S)
    assert block, "no exact /v2/ location"
    header = challenge_header(external_url="http://127.0.0.1:18999")
    assert f"add_header WWW-Authenticate '{header}' always;" in block.group(1)
    assert 'if ($http_authorization = "")' in block.group(1)
    assert "proxy_pass http://core;" in block.group(1)  # with credentials: the gate


@pytest.mark.parametrize(
    "url", ["http://h/'; return 200 x; #", "http://h/$host", "http://h/a b", "ftp://h", "h:80"]
)
def test_an_external_url_that_would_break_the_configs_is_refused(tmp_path, url):
    from django.core.management.base import CommandError

    rt = load_runtime({"HARBOR_DATA_DIR": str(tmp_path / "data"), "HARBOR_EXTERNAL_URL": url})
    (rt.keys_dir).mkdir(parents=True)
    (rt.keys_dir / "registry_http_secret").write_text("secret")
    with pytest.raises(CommandError, match="HARBOR_EXTERNAL_URL"):
        render_configs(rt, tmp_path / "config")
    assert not (tmp_path / "config" / "nginx.conf").exists()


def _program_environment(config_dir: Path, program: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config_dir / "supervisord.conf")
    line = parser.get(f"program:{program}", "environment", fallback="")
    return dict(re.findall(r'(\w+)="([^"]*)"', line))


def test_distribution_runs_with_the_go_gc_settings(render, monkeypatch):
    monkeypatch.delenv("HARBOR_REGISTRY_GOGC", raising=False)
    monkeypatch.delenv("HARBOR_REGISTRY_GOMEMLIMIT", raising=False)
    config_dir, _, _ = render()
    assert _program_environment(config_dir, "registry") == {"GOGC": "400", "GOMEMLIMIT": "1GiB"}
    assert "GOGC" not in _program_environment(config_dir, "core")  # Python ignores it anyway

    config_dir, _, _ = render(HARBOR_REGISTRY_GOGC="off", HARBOR_REGISTRY_GOMEMLIMIT="768MiB")
    assert _program_environment(config_dir, "registry") == {"GOGC": "off", "GOMEMLIMIT": "768MiB"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HARBOR_REGISTRY_GOGC", "0"),
        ("HARBOR_REGISTRY_GOGC", "fast"),
        ("HARBOR_REGISTRY_GOGC", '400",PATH="/tmp'),
        ("HARBOR_REGISTRY_GOGC", "400\n"),
        ("HARBOR_REGISTRY_GOMEMLIMIT", "1GB"),  # Go knows KiB, MiB, GiB, TiB only
        ("HARBOR_REGISTRY_GOMEMLIMIT", "-1"),
        ("HARBOR_REGISTRY_GOMEMLIMIT", "1GiB\n[program:x]"),
    ],
)
def test_go_gc_settings_distribution_would_not_understand_are_refused(
    render, tmp_path, name, value
):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=name):
        render(**{name: value})
    assert not (tmp_path / "config" / "supervisord.conf").exists()


def test_docker_compose_accepts_the_ha_compose_file(tmp_path):
    """deploy/docker-compose.ha.yml: SeaweedFS, Patroni + etcd + HAProxy, Redis Sentinel."""
    compose = BASE_DIR / "deploy" / "docker-compose.ha.yml"
    secrets = ("POSTGRES_REPLICATION_PASSWORD", "HARBOR_S3_ACCESS_KEY", "HARBOR_S3_SECRET_KEY")
    env = _compose_env(tmp_path, *secrets)
    command = ["docker-compose", "--env-file", str(env), "-f", str(compose), "config"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    app = services["web"]["environment"]
    assert app["DATABASE_URL"].endswith("@haproxy:5000/harbor")
    assert app["REDIS_SENTINELS"].count(",") == 2 and "REDIS_URL" not in app
    assert app["HARBOR_STORAGE"] == "s3" and app["HARBOR_S3_ENDPOINT"].endswith("s3:8333")
    for name, service in services.items():
        if service.get("command", [""])[0] == "python":
            assert service["command"][2:] in (
                ["platform", "prepare"],
                *[["serve", r] for r in ROLES],
            ), name
    env.write_text(env.read_text().replace("POSTGRES_REPLICATION_PASSWORD=filled-in", ""))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "POSTGRES_REPLICATION_PASSWORD" in result.stderr


def test_serve_registry_drops_what_distributions_s3_driver_cannot_take():
    """distribution 2.8 panics at start on S3 with AWS_CA_BUNDLE set; `serve registry`
    (compose, HA nodes) must drop it as the embedded run's supervisord does."""
    from harbor_py.processes import process_environment

    inherited = {"AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt", "PATH": "/usr/bin"}
    registry = process_environment("registry", inherited)
    assert "AWS_CA_BUNDLE" not in registry and registry["PATH"] == "/usr/bin"
    assert "GOGC" in registry  # what role_environment adds is still there
    assert process_environment("web", inherited)["AWS_CA_BUNDLE"] == inherited["AWS_CA_BUNDLE"]


@pytest.mark.parametrize("storage", ["filesystem", "s3"])
def test_distribution_never_purges_uploads_itself(render, settings, storage):
    """harbor-py's GC deletes abandoned uploads; distribution 2.8's purger panics walking
    an S3 bucket (seen on SeaweedFS in the chaos test), taking the registry down."""
    settings.HARBOR = {**settings.HARBOR, "STORAGE": storage}
    _, _, registry = render()
    assert registry["storage"]["maintenance"] == {"uploadpurging": {"enabled": False}}


def test_an_instance_started_before_the_socket_rename_stays_reachable(tmp_path):
    """`platform up` on an instance still running the old code renders nginx.conf for
    run/web.sock while its web server listens on run/gunicorn.sock."""
    rt = load_runtime({"HARBOR_DATA_DIR": str(tmp_path / "data")})
    rt.run_dir.mkdir(parents=True)
    legacy = rt.run_dir / "gunicorn.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as old_server:
        old_server.bind(str(legacy))
        old_server.listen()
        bridge_legacy_web_socket(rt)
        bridge_legacy_web_socket(rt)  # again (`platform up` twice): unchanged
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as nginx:
            nginx.connect(str(rt.web_socket))
            nginx.sendall(b"GET")
            received = []
            for _ in range(3):  # the bridge's two probes first, which sent nothing
                accepted, _ = old_server.accept()
                with accepted:
                    received.append(accepted.recv(3))
            assert received == [b"", b"", b"GET"]
    # The old server is gone (`platform down`): the next prepare clears the way for the new.
    bridge_legacy_web_socket(rt)
    assert not rt.web_socket.is_symlink() and not rt.web_socket.exists()
    assert not legacy.exists()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as new_server:
        new_server.bind(str(rt.web_socket))


def test_a_fresh_instance_gets_no_link(tmp_path):
    rt = load_runtime({"HARBOR_DATA_DIR": str(tmp_path / "data")})
    rt.run_dir.mkdir(parents=True)
    bridge_legacy_web_socket(rt)
    assert sorted(rt.run_dir.iterdir()) == []
