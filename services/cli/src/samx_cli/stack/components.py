"""How each stack process is configured, started and checked. One small class per server."""

from __future__ import annotations

import base64
import json
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from samx_cli.stack.build import kafka_libs, minio_binary
from samx_cli.stack.ports import tcp_open

_KAFKA_LOG4J = """\
<Configuration status="WARN">
  <Appenders><Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="%d %p %c{1} %m%n"/></Console></Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="out"/></Root>
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
  </Loggers>
</Configuration>
"""


@dataclass
class KafkaServer:
    """One node that is both broker and KRaft controller: no ZooKeeper."""

    build_dir: Path
    state_dir: Path
    port: int
    controller_port: int
    heap_mb: int = 512
    # Where the broker keeps its logs; <state>/kafka/data by default. A clean stop flushes every
    # partition to it: ~25 s on this VM's disk with the ~2,400 partitions a test session creates, ~6 s
    # on tmpfs, which is where the test session puts them (conftest.py).
    data_dir: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def prepare(self) -> None:
        data = self.data_dir or self.state_dir / "kafka" / "data"
        config = self.state_dir / "kafka" / "server.properties"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=4",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.retention.hours=168",
                    "message.max.bytes=2097152",
                    "",
                ]
            )
        )
        (self.state_dir / "kafka" / "log4j2.xml").write_text(_KAFKA_LOG4J)
        if not (data / "meta.properties").exists():
            import subprocess

            cluster_id = "-"
            while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid: a leading '-' reads as an option
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            subprocess.run(
                [*self._java(), "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
                check=True,
                capture_output=True,
            )

    def _java(self) -> list[str]:
        log4j = self.state_dir / "kafka" / "log4j2.xml"
        return [
            "java",
            f"-Xmx{self.heap_mb}m",
            f"-Xms{self.heap_mb // 2}m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{kafka_libs(self.build_dir)}/*",
        ]

    def command(self) -> list[str]:
        return [*self._java(), "kafka.Kafka", str(self.state_dir / "kafka" / "server.properties")]

    def ready(self) -> bool:
        if not tcp_open(self.port):
            return False
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=[self.bootstrap], request_timeout_ms=3000)
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()


@dataclass
class MinioServer:
    build_dir: Path
    state_dir: Path
    port: int
    console_port: int
    access_key: str
    secret_key: str

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def prepare(self) -> None:
        (self.state_dir / "minio" / "data").mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [
            str(minio_binary(self.build_dir)),
            "server",
            str(self.state_dir / "minio" / "data"),
            "--address",
            self.endpoint,
            "--console-address",
            f"127.0.0.1:{self.console_port}",
            "--quiet",
        ]

    def env(self) -> dict[str, str]:
        return {
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "on",
            "MINIO_UPDATE": "off",
            "MINIO_CALLHOME_ENABLE": "off",
        }

    def ready(self) -> bool:
        with urllib.request.urlopen(f"http://{self.endpoint}/minio/health/ready", timeout=2) as response:  # noqa: S310
            return response.status == 200


#: Ray replaces 127.0.0.1 in a bootstrap address by the machine's routable IP, where a loopback-only head
#: is not listening; in its single-machine mode (this switch, named for Windows/macOS) it stays on loopback.
#: The head and every driver connecting to it need it.
LOOPBACK_RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

#: pyarrow 25/26 wheels bundle a mimalloc whose per-thread init can crash a process that allocates from
#: short-lived threads (apache/arrow#50471, #50908); Ray Data, Ray Train's storage and our checkpoints all
#: allocate Arrow memory from pool threads. The system allocator sidesteps it at no cost we can measure.
ARROW_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system"}

#: Ray's uv hook: a Ray driver with a ``uv run`` ancestor (``uv run samx demo`` is one for every process
#: of the stack, the head's dashboard and its Jobs API included) starts each worker through ``uv run``
#: and ships the current folder as the job's working_dir. Measured in the demo's phase-2 job: every worker
#: and actor process paid 1.6-4 CPU s in ``uv`` before Python started, and the checkout was packaged and
#: uploaded. The stack's workers run this venv as it is; nothing there needs uv.
NO_UV_HOOK_ENV = {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}


@dataclass
class RayHead:
    """``ray start --head --block`` in its own process group: stopping the group stops raylet and
    workers too, without ``ray stop`` (which kills every Ray process of the machine by name)."""

    # After SIGTERM the raylet and the workers exit within a second, but ``ray start --block``, its GCS
    # and the autoscaler monitor were still running 20 s later (measured); the head keeps nothing that a
    # restart needs, so its group is killed after a short grace instead of the default 20 s.
    stop_timeout_s: ClassVar[float] = 5.0

    state_dir: Path
    port: int
    dashboard_port: int
    num_cpus: int
    # Ray's fixed defaults (agent 52365, client server 10001) are taken by any other Ray on the machine
    # (a second stack, a test's ray.init): the head's agent then serves no HTTP and the Jobs API the
    # launcher submits training through answers "Agent info not found" for ever. Free ports instead.
    agent_port: int | None = None
    client_port: int | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def auth_token_file(self) -> Path:
        return self.state_dir / "ray" / "auth_token"

    def prepare(self) -> None:
        (self.state_dir / "ray").mkdir(parents=True, exist_ok=True)
        if not self.auth_token_file.exists():
            import secrets

            self.auth_token_file.write_text(secrets.token_hex(32))
            self.auth_token_file.chmod(0o600)

    def client_env(self) -> dict[str, str]:
        """What a driver needs to reach this head: loopback mode and the head's own auth token (Ray turns
        token authentication on by itself when it finds ~/.ray/auth_token; pinning both sides avoids a
        head and a driver that disagree)."""
        return {
            **LOOPBACK_RAY_ENV,
            **ARROW_ENV,
            **NO_UV_HOOK_ENV,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.auth_token_file),
        }

    def command(self) -> list[str]:
        import shutil
        import sys

        ray = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
        return [
            ray,
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={self.port}",
            f"--num-cpus={self.num_cpus}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}",
            *([f"--dashboard-agent-listen-port={self.agent_port}"] if self.agent_port else []),
            *([f"--ray-client-server-port={self.client_port}"] if self.client_port else []),
            "--disable-usage-stats",
            f"--temp-dir={self.temp_dir}",
        ]

    @property
    def temp_dir(self) -> Path:
        # Ray puts Unix sockets under its temp dir; their paths must stay under 107 bytes, which a
        # folder deep in a checkout or a test's tmp_path would break.
        import tempfile

        return Path(tempfile.gettempdir()) / f"samx-ray-{self.port}"

    def env(self) -> dict[str, str]:
        return {"RAY_USAGE_STATS_ENABLED": "0", **self.client_env()}

    def ready(self) -> bool:
        """Ready once the head's raylet has registered with GCS as alive: GCS and the dashboard answer
        seconds earlier, and a driver connecting in between waits on the raylet (and fails if that takes
        longer than Ray's fixed window on a loaded machine)."""
        if not (tcp_open(self.port) and tcp_open(self.dashboard_port)):
            return False
        request = urllib.request.Request(  # noqa: S310 - loopback dashboard of the head we started
            f"http://127.0.0.1:{self.dashboard_port}/api/v0/nodes",
            headers={"Authorization": f"Bearer {self.auth_token_file.read_text().strip()}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            nodes = json.load(response)["data"]["result"]["result"]
        return any(node.get("state") == "ALIVE" and node.get("is_head_node") for node in nodes)
