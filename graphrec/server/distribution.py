"""Obtain Neo4j Community through Maven Central with ``mvn``, once, into ``GRAPHREC_HOME/dist``.

Maven Central carries no distribution tarball for 5.x, so the server's own jars are copied by
``mvn dependency:copy-dependencies`` from the pom beside this file (Browser jar included) and
run through ``org.neo4j.server.CommunityEntryPoint``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from graphrec.errors import ServerError
from graphrec.paths import graphrec_home

NEO4J_VERSION = "5.26.30"
POM = Path(__file__).with_name("neo4j-pom.xml")
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"


def dist_dir(version: str = NEO4J_VERSION) -> Path:
    return graphrec_home() / "dist" / f"neo4j-community-{version}"


def check_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise ServerError(
            f"{' and '.join(missing)} not found on PATH: graphrec needs Java 17+ to run Neo4j "
            "and Maven (mvn) to fetch it once from Maven Central"
        )


def lib_dir(version: str = NEO4J_VERSION) -> Path:
    return dist_dir(version) / "lib"


def is_installed(version: str = NEO4J_VERSION) -> bool:
    return (dist_dir(version) / ".complete").exists()


def ensure_distribution(version: str = NEO4J_VERSION, log=print) -> Path:
    """Return the cached distribution folder, fetching it with mvn the first time."""
    target = dist_dir(version)
    if is_installed(version):
        return target
    check_tools("java", "mvn")
    if target.exists():  # a half-finished earlier attempt
        shutil.rmtree(target)
    target.mkdir(parents=True)
    log(f"Fetching Neo4j {version} Community from Maven Central (once, into {target}) ...")
    _copy_jars(version, target, log)
    (target / ".complete").write_text(version + "\n")
    return target


def _mvn(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mvn", "-B", "-q", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def _copy_jars(version: str, target: Path, log) -> None:
    lib = target / "lib"
    done = _mvn(
        [
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-Dneo4j.version={version}",
            f"-DoutputDirectory={lib}",
        ],
        target,
    )
    if done.returncode != 0 or not any(lib.glob("neo4j-*.jar")):
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ServerError(f"mvn could not fetch Neo4j {version}:\n{tail}")
    log(f"  {sum(1 for _ in lib.glob('*.jar'))} jars in {lib}")


def java_command(main_class: str, version: str = NEO4J_VERSION) -> list[str]:
    """``java -cp lib/* MAIN``."""
    return ["java", "-cp", str(lib_dir(version) / "*"), main_class]


if __name__ == "__main__":  # used by scripts/fetch-neo4j
    print(ensure_distribution(sys.argv[1] if len(sys.argv) > 1 else NEO4J_VERSION))
