"""Building the stack's programs from the package registries, once.

- Kafka: the official Apache Kafka jars, resolved by Maven from ``kafka-pom.xml`` (version pinned there).
- MinIO: the server built from source with ``go install`` at a pinned version (its go.mod has no
  replace directives, so the module proxy is enough).
Products go to ``<dir>/build``; a second ``stack up`` finds them and starts in seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path

#: MinIO's community edition is tagged RELEASE.<date> (not semver), so Go addresses it by pseudo-version.
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"

Say = Callable[[str], None]


def kafka_version() -> str:
    pom = resources.files("samx_cli.stack").joinpath("kafka-pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    if not match:
        raise RuntimeError("kafka-pom.xml does not pin <kafka.version>")
    return match.group(1)


def kafka_libs(build_dir: Path) -> Path:
    return build_dir / f"kafka-{kafka_version()}" / "libs"


def minio_binary(build_dir: Path) -> Path:
    return build_dir / "bin" / f"minio-{MINIO_VERSION}"


def ensure_kafka(build_dir: Path, say: Say) -> Path:
    libs = kafka_libs(build_dir)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    _require("mvn", "Maven (Debian package 'maven') resolves the Kafka jars")
    _require("java", "a Java 17+ runtime (Debian package 'openjdk-17-jre-headless') runs Kafka")
    say(f"resolving Apache Kafka {kafka_version()} jars with Maven (once) ...")
    with resources.as_file(resources.files("samx_cli.stack").joinpath("kafka-pom.xml")) as pom:
        _run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={libs}",
                "-DincludeScope=runtime",
            ],
            say,
            "maven",
        )
    marker.write_text("ok\n")
    return libs


def ensure_minio(build_dir: Path, say: Say) -> Path:
    binary = minio_binary(build_dir)
    if binary.exists():
        return binary
    _require("go", "Go 1.24+ builds the MinIO server")
    say(f"building MinIO {MINIO_VERSION} with go install (once; several minutes on 2 cores) ...")
    gobin = binary.parent / ".gobin"
    gobin.mkdir(parents=True, exist_ok=True)
    _run(
        ["go", "install", "-trimpath", f"{MINIO_MODULE}@{MINIO_VERSION}"],
        say,
        "go",
        env={"GOBIN": str(gobin), "CGO_ENABLED": "0"},
    )
    (gobin / "minio").rename(binary)
    return binary


def _require(tool: str, why: str) -> None:
    if shutil.which(tool) is None:
        raise RuntimeError(f"'{tool}' is not on PATH: {why}. Install it (see README, 'Set-up').")


def _run(command: list[str], say: Say, label: str, env: dict[str, str] | None = None) -> None:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})}
    )
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        line = line.rstrip()
        tail = [*tail[-30:], line]
        if line.startswith(("go: downloading", "[INFO] Copying")):
            continue  # hundreds of these; the summary line below says it is working
        say(f"  [{label}] {line}")
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed:\n" + "\n".join(tail))
