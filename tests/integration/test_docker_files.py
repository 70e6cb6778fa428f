"""docker/Dockerfile and docker/compose.yaml, checked without a Docker engine: they must name real things
(the base image, CLI subcommands, settings, files in the build context, services, volumes)."""

import asyncio
import ipaddress
import json
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from typer.testing import CliRunner

from jobgate.app import create_app
from jobgate.cli import cli
from jobgate.config import Settings
from support.factories import settings_for
from support.haproxy import make_certificate

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
JOBGATE_SERVICES = ("jobgate", "worker")


# -- a small Dockerfile reader ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of CMD ["a", "b"] (after any --options), or None for the shell form."""
        text = self.args.partition(" CMD ")[2] if self.keyword == "HEALTHCHECK" else self.args
        text = text.strip()
        return json.loads(text) if text.startswith("[") else None


def read_dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, as the Docker parser does."""
    instructions, pending, start = [], "", 0
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending, start = pending + line[:-1] + " ", start or n
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start or n))
        pending, start = "", 0
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return instructions[last_from:]


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword != "ENV":
            continue
        words = shlex.split(ins.args)
        if "=" not in words[0]:  # the legacy `ENV KEY value` form
            env[words[0]] = " ".join(words[1:])
            continue
        env.update(word.split("=", 1) for word in words)  # type: ignore[misc]
    return env


# -- compose ------------------------------------------------------------------------------------------------
def read_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR} / $$ with nothing set in the environment."""
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)
    return value.replace("$$", "$")


def service_env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    pairs = raw.items() if isinstance(raw, dict) else (item.split("=", 1) for item in raw)
    return {key: interpolate(str(value)) for key, value in pairs}


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = service.get("depends_on") or {}
    return {name: {} for name in raw} if isinstance(raw, list) else dict(raw)


def mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, target) of each short-syntax volume."""
    for volume in service.get("volumes") or []:
        source, target, *_ = volume.split(":")
        yield source, target


def commands() -> Iterator[list[str]]:
    """Every argv the image runs: the Dockerfile's CMD and each compose service's command."""
    for ins in final_stage(read_dockerfile()):
        if ins.keyword == "CMD":
            argv = ins.exec_form()
            assert argv is not None, "CMD should use the exec form"
            yield argv
    for service in read_compose()["services"].values():
        command = service.get("command")
        if command is not None:
            yield command if isinstance(command, list) else shlex.split(command)


def status_of(app: Starlette, path: str) -> int:
    async def get() -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            return (await client.get(path)).status_code

    return asyncio.run(get())


# -- the Dockerfile -----------------------------------------------------------------------------------------
class TestDockerfile:
    def test_every_stage_starts_from_python_3_11_slim(self) -> None:
        images = [shlex.split(i.args)[0] for i in read_dockerfile() if i.keyword == "FROM"]
        assert images
        assert set(images) == {"python:3.11-slim"}

    def test_the_image_runs_as_a_user_that_is_not_root(self) -> None:
        stage = final_stage(read_dockerfile())
        users = [i.args for i in stage if i.keyword == "USER"]
        assert users, "no USER in the final stage"
        user = users[-1].split(":")[0]
        assert user not in ("root", "0")
        assert any(i.keyword == "RUN" and "useradd" in i.args and user in i.args for i in stage)

    def test_the_healthcheck_asks_healthz_with_python(self) -> None:
        checks = [i for i in final_stage(read_dockerfile()) if i.keyword == "HEALTHCHECK"]
        assert len(checks) == 1
        argv = checks[0].exec_form()
        assert argv is not None
        assert argv[:2] == ["python", "-c"]
        assert "/healthz" in argv[2]
        compile(argv[2], "HEALTHCHECK", "exec")  # valid Python
        assert not re.search(r"\b(curl|wget)\b", checks[0].args), "python:3.11-slim has neither"

    def test_the_healthcheck_url_is_a_real_endpoint_on_the_exposed_port(self, tmp_path: Path) -> None:
        stage = final_stage(read_dockerfile())
        check = next(i for i in stage if i.keyword == "HEALTHCHECK").exec_form()
        assert check is not None
        found = re.search(r"https?://[^'\"]+", check[2])
        assert found is not None
        url = urlsplit(found.group())
        assert {i.args for i in stage if i.keyword == "EXPOSE"} == {"8080"}
        assert url.port == int(env_of(stage).get("JOBGATE_PORT", "8080")) == 8080
        app = create_app(settings_for(f"sqlite:///{tmp_path / 'h.db'}", tmp_path / "data"))
        try:
            assert status_of(app, url.path) == 200
        finally:
            app.state.components.engine.dispose()

    def test_it_listens_on_all_interfaces_and_serves_by_default(self) -> None:
        stage = final_stage(read_dockerfile())
        assert env_of(stage)["JOBGATE_HOST"] == "0.0.0.0"
        assert [i.exec_form() for i in stage if i.keyword == "CMD"] == [["jobgate", "serve"]]

    def test_copy_sources_exist_in_the_build_context(self) -> None:
        copies = [i for i in read_dockerfile() if i.keyword in ("COPY", "ADD") and "--from=" not in i.args]
        assert copies
        for ins in copies:
            *sources, _dest = ins.exec_form() or shlex.split(ins.args)
            for source in sources:
                assert (REPO / source).exists(), f"line {ins.line}: {source} is not in the build context"

    def test_the_build_copies_everything_the_wheel_needs(self) -> None:
        project = tomllib.loads((REPO / "pyproject.toml").read_text())
        wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
        needed = ["pyproject.toml", project["project"]["readme"], *wheel["packages"], *wheel["force-include"]]
        copied = [
            source
            for ins in read_dockerfile()
            if ins.keyword == "COPY" and "--from=" not in ins.args
            for source in shlex.split(ins.args)[:-1]
        ]
        for path in needed:
            assert any(path == c or path.startswith(c.rstrip("/") + "/") for c in copied), path

    def test_pip_installs_the_project_with_an_extra_that_exists(self) -> None:
        extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        installs = [m for i in read_dockerfile() for m in re.findall(r"pip install \"?\.\[([\w,]+)\]", i.args)]
        assert installs == ["postgres"]
        assert "postgres" in extras


# -- the compose file ---------------------------------------------------------------------------------------
class TestCompose:
    def test_it_has_a_proxy_two_servers_two_workers_and_postgres(self) -> None:
        services = read_compose()["services"]
        assert set(services) == {"proxy", "postgres", "jobgate", "worker"}
        assert services["postgres"]["image"] == "postgres:15"
        assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
        assert services["proxy"]["ports"] == ["8443:8443"]
        assert "ports" not in services["jobgate"]  # reached through the proxy only
        assert services["jobgate"]["deploy"]["replicas"] == 2
        assert services["worker"]["deploy"]["replicas"] == 2
        assert services["worker"]["command"] == ["jobgate", "worker"]
        assert "JOBGATE_RUNNERS" in service_env(services["worker"])

    def test_the_servers_trust_forwarded_headers_from_the_proxy_only(self) -> None:
        compose = read_compose()
        proxy = compose["services"]["proxy"]
        address = proxy["networks"]["default"]["ipv4_address"]
        subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
        assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
        assert service_env(compose["services"]["jobgate"])["JOBGATE_TRUSTED_PROXIES"] == address
        assert "JOBGATE_TRUSTED_PROXIES" not in service_env(compose["services"]["worker"])

    def test_the_proxy_config_is_mounted_valid_and_sends_to_the_servers(self, tmp_path: Path) -> None:
        proxy = read_compose()["services"]["proxy"]
        sources = {target: source for source, target in mounts(proxy)}
        config = (DOCKER / sources["/usr/local/etc/haproxy/haproxy.cfg"]).resolve()
        text = config.read_text()
        assert "server-template jobgate 2 jobgate:8080" in text
        assert "X-Forwarded-Proto https" in text
        assert "/usr/local/etc/haproxy/certs/jobgate.pem" in text
        assert (DOCKER / sources["/usr/local/etc/haproxy/certs"]).resolve().is_dir()
        bundle, _cert = make_certificate(tmp_path)
        local = tmp_path / "haproxy.cfg"  # the same file, with this machine's paths, checked by haproxy -c
        local.write_text(text.replace("/usr/local/etc/haproxy/certs/jobgate.pem", str(bundle)))
        check = subprocess.run(["haproxy", "-c", "-f", str(local)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr

    def test_dependencies_name_services_and_wait_only_on_real_healthchecks(self) -> None:
        services = read_compose()["services"]
        for name, service in services.items():
            for target, spec in depends_on(service).items():
                assert target in services, f"{name} depends on unknown {target}"
                if spec.get("condition") == "service_healthy":
                    check = services[target].get("healthcheck") or {}
                    assert check.get("test"), f"{target} has no healthcheck"
                    assert not check.get("disable"), f"{target} has its healthcheck disabled"
        for name in JOBGATE_SERVICES:
            assert depends_on(services[name])["postgres"]["condition"] == "service_healthy"

    def test_jobgate_services_build_the_dockerfile_from_the_repository_root(self) -> None:
        for name in JOBGATE_SERVICES:
            build = read_compose()["services"][name]["build"]
            context = (DOCKER / build["context"]).resolve()
            assert context == REPO
            assert (context / build["dockerfile"]).resolve() == DOCKERFILE

    def test_the_worker_does_not_inherit_the_http_healthcheck(self) -> None:
        assert read_compose()["services"]["worker"]["healthcheck"] == {"disable": True}

    def test_volumes_are_declared_and_hold_the_data_dir_and_the_database(self) -> None:
        compose = read_compose()
        declared = set(compose["volumes"])
        for name, service in compose["services"].items():
            for source, _ in mounts(service):
                assert source.startswith((".", "/")) or source in declared, f"{name}: volume {source}"
        for name in JOBGATE_SERVICES:
            service = compose["services"][name]
            targets = {target for _, target in mounts(service)}
            assert service_env(service)["JOBGATE_DATA_DIR"] in targets
        assert "/var/lib/postgresql/data" in {t for _, t in mounts(compose["services"]["postgres"])}

    def test_the_database_url_reaches_the_postgres_service_with_psycopg(self) -> None:
        compose = read_compose()
        postgres = service_env(compose["services"]["postgres"])
        for name in JOBGATE_SERVICES:
            url = make_url(service_env(compose["services"][name])["JOBGATE_DATABASE_URL"])
            assert url.drivername == "postgresql+psycopg"
            assert (url.host, url.port) == ("postgres", 5432)
            assert (url.username, url.password, url.database) == (
                postgres["POSTGRES_USER"],
                postgres["POSTGRES_PASSWORD"],
                postgres["POSTGRES_DB"],
            )


# -- both files against the code ------------------------------------------------------------------------
class TestAgainstTheCode:
    def test_every_jobgate_variable_named_is_a_setting(self) -> None:
        text = DOCKERFILE.read_text() + COMPOSE.read_text()
        names = set(re.findall(r"\bJOBGATE_[A-Z0-9_]+", text))
        assert names
        unknown = {n for n in names if n.removeprefix("JOBGATE_").lower() not in Settings.model_fields}
        assert not unknown

    @pytest.mark.parametrize("service", JOBGATE_SERVICES)
    def test_the_settings_each_service_gets_are_valid(self, service: str) -> None:
        env = env_of(final_stage(read_dockerfile())) | service_env(read_compose()["services"][service])
        values = {k.removeprefix("JOBGATE_").lower(): v for k, v in env.items() if k.startswith("JOBGATE_")}
        Settings(**values)  # raises ValidationError on a bad value

    def test_every_command_names_a_real_cli_subcommand(self) -> None:
        argvs = list(commands())
        assert {tuple(argv) for argv in argvs} == {("jobgate", "serve"), ("jobgate", "worker")}
        scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
        assert scripts["jobgate"] == "jobgate.cli:main"
        for argv in argvs:
            words = [w for w in argv[1:] if not w.startswith("-")]
            result = CliRunner().invoke(cli, [*words, "--help"])
            assert result.exit_code == 0, f"{argv}: {result.output}"
            assert "Usage" in result.output
