"""What operators rely on: the compose topology (every process with a health check, web and
worker scalable, one beat), the image, and a complete .env.example."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_PROCESSES = ("web", "worker", "beat")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_describes_every_process_with_a_health_check():
    services = compose()["services"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], name
    for name in (*APP_PROCESSES, "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith(
            "redis://"
        )
        assert env["INBOX_DEPLOYMENT"] == "production"
    for name in APP_PROCESSES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
    assert services["web"]["command"][0] == "daphne"
    # ASGI runs each request in a thread of its own: persistent connections would pile up.
    assert services["web"]["environment"]["DATABASE_CONN_MAX_AGE"] == "0"
    assert services["worker"]["command"][:3] == ["celery", "-A", "config"]
    assert "worker" in services["worker"]["command"]
    assert services["beat"]["command"][:3] == ["celery", "-A", "config"]
    assert "beat" in services["beat"]["command"]


def test_web_and_worker_can_scale_and_beat_runs_once():
    services = compose()["services"]
    for name in ("web", "worker"):
        # A fixed name or host port makes `docker compose up --scale` fail for the second copy.
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "container_name" not in services["beat"]
    # The proxy is the one entry point, and it reaches every web replica by the service name.
    proxy = services["proxy"]
    assert "web:8000" in proxy["command"]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"


def test_health_checks_ask_the_app_not_files():
    services = compose()["services"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    # Beat's check reads the heartbeat beat records (config/celery.py), not a file's age.
    assert services["beat"]["healthcheck"]["test"][-3:] == ["-m", "config.health", "beat"]


def test_env_example_lists_every_variable_the_settings_and_compose_read():
    read = set()
    for path in (ROOT / "config").glob("*.py"):
        read |= set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', path.read_text()))
    assert read, "no settings found: the pattern is out of date"
    read |= set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - listed == set()


def test_the_image_runs_as_an_unprivileged_user_with_static_files_collected():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert "collectstatic" in dockerfile


def test_compose_and_serve_start_the_worker_pool_that_bench_poll_chose() -> None:
    from inbox.management.commands.serve import WORKER_POOL_OPTIONS

    command = compose()["services"]["worker"]["command"]
    pool, concurrency = WORKER_POOL_OPTIONS[1], WORKER_POOL_OPTIONS[3]
    assert (pool, concurrency) == ("threads", "32")
    assert command[command.index("--pool") + 1] == pool
    assert command[command.index("--concurrency") + 1] == f"${{WORKER_CONCURRENCY:-{concurrency}}}"
