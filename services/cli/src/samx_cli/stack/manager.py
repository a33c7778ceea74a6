"""``LocalStack``: up, down and status of the local Kafka, MinIO and Ray.

Ports and credentials are chosen at the first ``up`` (free loopback ports, random keys, this machine's
serving token) and kept in ``<state>/stack.json``; ``<state>/stack.env`` holds the matching ``SAMX_*``
variables that every service reads. A component whose endpoint is given in the environment
(``SAMX_KAFKA_BOOTSTRAP_SERVERS``, ``SAMX_S3_ENDPOINT`` with keys, ``SAMX_RAY_ADDRESS``) is not started:
SAM-X uses the existing one.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from samx_cli.stack.build import ensure_kafka, ensure_minio
from samx_cli.stack.components import KafkaServer, MinioServer, RayHead
from samx_cli.stack.ports import free_port, port_is_free, wait_until
from samx_cli.stack.processes import DEFAULT_STOP_TIMEOUT_S, ManagedProcess, stop_together
from samx_cli.stack.status import ProcessStatus, component_status, service_status

ALL_COMPONENTS = ("kafka", "minio", "ray")
SERVING_USER = "samx-local"  # who the local serving token belongs to (samx_core.auth grant)
_EXTERNAL_ENV = {"kafka": "SAMX_KAFKA_BOOTSTRAP_SERVERS", "minio": "SAMX_S3_ENDPOINT", "ray": "SAMX_RAY_ADDRESS"}


def _stop_timeout(component: str) -> float:
    server = {"kafka": KafkaServer, "minio": MinioServer, "ray": RayHead}[component]
    return getattr(server, "stop_timeout_s", DEFAULT_STOP_TIMEOUT_S)


def _say(message: str) -> None:
    print(message, flush=True)


@dataclass
class LocalStack:
    build_dir: Path
    state_dir: Path
    say: Callable[[str], None] = field(default=_say)
    ray_cpus: int = max(1, os.cpu_count() or 1)
    kafka_data_dir: Path | None = None  # KafkaServer.data_dir: <state>/kafka/data when None

    # -- state ------------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "stack.env"

    def _config(self) -> dict:
        if self.config_file.exists():
            return json.loads(self.config_file.read_text())
        return {}

    def _save_config(self, config: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(config, indent=2))
        self.config_file.chmod(0o600)

    def process(self, name: str) -> ManagedProcess:
        return ManagedProcess(name, self.state_dir / "pids", self.state_dir / "logs")

    def _port(self, config: dict, name: str) -> int:
        port = config.get(name)
        if port is None or not port_is_free(port):
            port = free_port()
        config[name] = port
        return port

    def servers(self, config: dict) -> dict[str, KafkaServer | MinioServer | RayHead]:
        return {
            "kafka": KafkaServer(
                self.build_dir,
                self.state_dir,
                config["kafka_port"],
                config["kafka_controller_port"],
                data_dir=self.kafka_data_dir,
            ),
            "minio": MinioServer(
                self.build_dir,
                self.state_dir,
                config["minio_port"],
                config["minio_console_port"],
                config["minio_access_key"],
                config["minio_secret_key"],
            ),
            "ray": RayHead(
                self.state_dir,
                config["ray_port"],
                config["ray_dashboard_port"],
                self.ray_cpus,
                agent_port=config.get("ray_agent_port"),
                client_port=config.get("ray_client_port"),
            ),
        }

    # -- verbs ------------------------------------------------------------------------------------
    def up(self, components: tuple[str, ...] = ALL_COMPONENTS) -> dict[str, str]:
        """Starts what is not running yet; returns the ``SAMX_*`` environment of the stack."""
        config = self._config()
        wanted = [c for c in components if not os.environ.get(_EXTERNAL_ENV[c])]
        for skipped in sorted(set(components) - set(wanted)):
            self.say(f"{skipped}: using the existing one at ${_EXTERNAL_ENV[skipped]}")
        if "kafka" in wanted:
            ensure_kafka(self.build_dir, self.say)
        if "minio" in wanted:
            ensure_minio(self.build_dir, self.say)
        for name in (
            "kafka_port",
            "kafka_controller_port",
            "minio_port",
            "minio_console_port",
            "ray_port",
            "ray_dashboard_port",
            "ray_agent_port",
            "ray_client_port",
        ):
            # Only a component about to start may move to another port: one that runs keeps the port its
            # clients were given (re-picking it because it is taken - by that component - rewrote
            # stack.json under a running MinIO), and one not asked for gets a port only when it has none.
            component = name.split("_")[0]
            if (component in wanted and not self.process(component).running()) or name not in config:
                self._port(config, name)
        config.setdefault("minio_access_key", "samx-" + secrets.token_hex(6))
        config.setdefault("minio_secret_key", secrets.token_urlsafe(24))
        # The key of this machine's ingest pseudonyms: made once and kept, like a hospital's would be.
        config.setdefault("deid_secret", secrets.token_hex(32))
        # The bearer token of this machine's serving API (its sort and the demo's curl lines send it).
        config.setdefault("serving_token", secrets.token_urlsafe(32))
        config["components"] = sorted(set(config.get("components", [])) | set(wanted))
        self._save_config(config)
        servers = self.servers(config)
        for name in wanted:
            self._start(name, servers[name])
        env = self.environment(config)
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        self.env_file.chmod(0o600)
        return env

    def _start(self, name: str, server) -> None:
        process = self.process(name)
        if process.running():
            self.say(f"{name}: already running (pid {process.pid()})")
            return
        server.prepare()
        pid = process.start(server.command(), env=getattr(server, "env", dict)())
        self.say(f"{name}: started (pid {pid}), waiting until ready ...")
        wait_until(server.ready, timeout_s=120, what=name, alive=process.running, log_hint=f"; see {process.log_file}")
        self.say(f"{name}: ready")

    def restart(self, name: str) -> None:
        """Stops one component and starts it again on the same ports and data (fault tests, upgrades)."""
        config = self._config()
        self.stop_component(name)
        self._start(name, self.servers(config)[name])

    def stop_component(self, name: str) -> None:
        """Stops one component, keeping its ports and data for ``start_component`` (fault tests)."""
        self.process(name).stop(timeout_s=_stop_timeout(name))

    def start_component(self, name: str) -> None:
        self._start(name, self.servers(self._config())[name])

    def down(self) -> list[str]:
        """Stops the services started against this stack (ingest workers, ...) first, then the stack."""
        # The services together, then the components together: each group waits for its slowest member only.
        services = stop_together([(self.process(name), DEFAULT_STOP_TIMEOUT_S) for name in self.service_names()])
        components = stop_together([(self.process(name), _stop_timeout(name)) for name in reversed(ALL_COMPONENTS)])
        stopped = [process.name for process in [*services, *components]]
        self.env_file.unlink(missing_ok=True)
        return stopped

    def service_names(self) -> list[str]:
        """The services started against this stack (ingest workers, labeling, ...), by their PID files."""
        return sorted(p.stem for p in (self.state_dir / "pids").glob("*.pid") if p.stem not in ALL_COMPONENTS)

    def status(self) -> list[ProcessStatus]:
        """Every process this stack started, the components first, each with PID, ports and health."""
        config = self._config()
        components = config.get("components", [])
        servers = self.servers(config) if components else {}
        rows = [component_status(name, self.process(name), config, servers[name].ready) for name in components]
        return rows + [service_status(self.process(name)) for name in self.service_names()]

    def environment(self, config: dict | None = None) -> dict[str, str]:
        """The ``SAMX_*`` variables of the components that are running now."""
        config = config or self._config()
        running = {name for name in config.get("components", []) if self.process(name).running()}
        env: dict[str, str] = {}
        if config.get("deid_secret"):
            env["SAMX_INGEST_DEID_SECRET"] = config["deid_secret"]
        if config.get("serving_token"):
            grants = {config["serving_token"]: {"user": SERVING_USER, "role": "viewer"}}
            env["SAMX_SERVING_TOKENS"] = json.dumps(grants, separators=(",", ":"))
            env["SAMX_SERVING_CLIENT_TOKEN"] = config["serving_token"]
        if "kafka" in running:
            env["SAMX_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{config['kafka_port']}"
        if "minio" in running:
            env |= {
                "SAMX_S3_ENDPOINT": f"127.0.0.1:{config['minio_port']}",
                "SAMX_S3_ACCESS_KEY": config["minio_access_key"],
                "SAMX_S3_SECRET_KEY": config["minio_secret_key"],
            }
        if "ray" in running:
            env["SAMX_RAY_ADDRESS"] = f"127.0.0.1:{config['ray_port']}"
            # the trainer's consumer submits each training run as a Ray job (samx_trainer.launch)
            env["SAMX_LAUNCHER_RAY_JOBS_ADDRESS"] = f"http://127.0.0.1:{config['ray_dashboard_port']}"
            ray = self.servers(config)["ray"]
            assert isinstance(ray, RayHead)
            env |= ray.client_env()
        return env
