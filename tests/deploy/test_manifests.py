"""The deployment files of `deploy/` (docs/deploy.md), checked without running a container.

The Compose file is validated against the Compose Specification's JSON schema and every
Kubernetes object against the Kubernetes 1.33 schemas (strict: unknown fields are errors), both
vendored in `tests/deploy/schemas/`. Then the files are checked against corral and each other:
every `CORRAL_*` variable they set is a setting corral reads, the configs they mount load and
build, probes and health checks hit real routes, names and ports that refer to each other match,
and the Dockerfile installs only hash-pinned packages. `nginx -t` parses the nginx config; that
one test is skipped where nginx is not installed (it is not part of the project's setup).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr
from referencing import Registry, Resource

from corral.api.app import create_app
from corral.services import build_catalog
from corral.settings import Settings, load_settings
from tests.support import in_process_services

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).parent / "schemas"
K8S_SCHEMAS = SCHEMAS / "kubernetes-v1.33"
Doc = dict[str, Any]
SHARED = {"CORRAL_DATABASE_URL", "CORRAL_REDIS_URL", "CORRAL_ADMIN_KEY", "CORRAL_KEY_SECRET"}
"""What every replica must be given, and the same on each."""
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


# --- reading the files --------------------------------------------------------------------


def compose() -> Doc:
    loaded: Doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def corral_services() -> dict[str, Doc]:
    return {name: s for name, s in compose()["services"].items() if name.startswith("corral-")}


def interpolate(value: str) -> str:
    """Compose's `${VAR...}` replaced by a stand-in value, as if the operator had set VAR."""
    return re.sub(r"\$\{(\w+)[^}]*\}", lambda m: f"dummy-{m.group(1).lower()}", value)


def k8s_objects() -> list[tuple[str, Doc]]:
    objects = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        objects += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def k8s(kind: str, name: str) -> Doc:
    found = [d for _, d in k8s_objects() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(deployment: str) -> Doc:
    pod = k8s("Deployment", deployment)["spec"]["template"]["spec"]
    first: Doc = pod["containers"][0]
    return first


def k8s_env(deployment: str) -> dict[str, str]:
    """The container's environment, `secretKeyRef`s resolved from secret.yaml."""
    env = {}
    for var in container(deployment)["env"]:
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        if ref is None:
            env[var["name"]] = var["value"]
        elif not ref.get("optional"):
            env[var["name"]] = k8s("Secret", ref["name"])["stringData"][ref["key"]]
    return env


def k8s_config_file(tmp_path: Path) -> Path:
    path = tmp_path / "corral.toml"
    path.write_text(k8s("ConfigMap", "corral")["data"]["corral.toml"])
    return path


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in joined.splitlines()
        if line.strip()
    ]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile():
        if instruction == "ENV":
            for item in shlex.split(args):
                name, _, value = item.partition("=")
                env[name] = value
    return env


# --- schemas ------------------------------------------------------------------------------


def k8s_validator(doc: Doc) -> jsonschema.protocols.Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc["apiVersion"])
    schema = json.loads((K8S_SCHEMAS / f"{doc['kind'].lower()}-{group_version}.json").read_text())
    definitions = json.loads((K8S_SCHEMAS / "_definitions.json").read_text())
    registry: Registry[Any] = Registry().with_resources(
        [
            (schema["$id"], Resource.from_contents(schema)),
            (definitions["$id"], Resource.from_contents(definitions)),
        ]
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def compose_validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / "compose-spec.json").read_text()))


def test_the_compose_file_follows_the_compose_specification() -> None:
    compose_validator().validate(compose())


@pytest.mark.parametrize(
    ("file", "doc"),
    k8s_objects(),
    ids=[f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in k8s_objects()],
)
def test_each_kubernetes_object_follows_its_schema(file: str, doc: Doc) -> None:
    k8s_validator(doc).validate(doc)


def test_the_validators_catch_a_misspelt_field() -> None:
    deployment = k8s("Deployment", "corral")
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(jsonschema.ValidationError, match="replica"):
        k8s_validator(typo).validate(typo)

    services = {"nginx": {**compose()["services"]["nginx"], "enviroment": {}}}
    with pytest.raises(jsonschema.ValidationError, match="enviroment"):
        compose_validator().validate({**compose(), "services": services})


def test_the_manifests_use_only_vendored_kinds() -> None:
    kinds = {(d["apiVersion"], d["kind"]) for _, d in k8s_objects()}

    assert kinds == {
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("networking.k8s.io/v1", "Ingress"),
    }


# --- consistency with corral --------------------------------------------------------------


def setting_path(name: str) -> list[str]:
    """`CORRAL_SERVER__PORT` -> ["server", "port"], asserting each step is a Settings field."""
    parts = name.removeprefix("CORRAL_").lower().split("__")
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        assert part in model.model_fields, f"{name}: '{part}' is not a corral setting"
        annotation = model.model_fields[part].annotation
        if depth < len(parts) - 1:
            assert isinstance(annotation, type) and issubclass(annotation, BaseModel), name
            model = annotation
    return parts


def assert_corral_reads(env: dict[str, str]) -> None:
    """Load the settings under `env` and find each `CORRAL_*` value where it belongs."""
    settings = load_settings()
    for name, expected in env.items():
        if not name.startswith("CORRAL_"):
            continue
        value: Any = settings
        for part in setting_path(name):
            value = getattr(value, part)
        shown = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        assert shown == expected, f"{name} was not read"


@pytest.mark.parametrize("name", ["CORRAL_BOGUS", "CORRAL_SERVER__BOGUS", "CORRAL_HOME__X"])
def test_a_variable_corral_does_not_read_is_caught(name: str) -> None:
    with pytest.raises(AssertionError, match=name):
        setting_path(name)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No `CORRAL_*` variable of the test run leaks into the settings under test."""
    for name in [n for n in os.environ if n.startswith("CORRAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CORRAL_HOME", str(tmp_path / "home"))
    return monkeypatch


def provider_key_vars(settings: Settings) -> set[str]:
    return {getattr(m, "api_key_env", None) or "" for m in settings.models} - {""}


def setenv(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_every_corral_variable_of_the_dockerfile_is_a_setting(
    clean_env: pytest.MonkeyPatch,
) -> None:
    env = {n: v for n, v in dockerfile_env().items() if n.startswith("CORRAL_")}
    setenv(clean_env, env)

    assert env, "the image sets CORRAL_HOME and CORRAL_SERVER__HOST"
    assert_corral_reads(env)


def test_compose_runs_corral_on_its_config_with_every_key_it_needs(
    clean_env: pytest.MonkeyPatch,
) -> None:
    for name, service in corral_services().items():
        env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
        setenv(clean_env, env)
        assert_corral_reads(env)

        settings = load_settings(DEPLOY / "corral.toml")
        build_catalog(settings)  # every provider key variable the models name is set
        key_vars = provider_key_vars(settings)
        assert key_vars == {n for n in env if not n.startswith("CORRAL_")}, name
        assert set(env) >= SHARED


def test_kubernetes_runs_corral_on_its_configmap_with_every_key_it_needs(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = k8s_env("corral")
    setenv(clean_env, env)
    assert_corral_reads(env)

    settings = load_settings(k8s_config_file(tmp_path))
    build_catalog(settings)
    key_vars = provider_key_vars(settings)
    assert key_vars == {n for n in env if not n.startswith("CORRAL_")}
    assert set(env) >= SHARED


def test_probes_and_health_checks_get_200_from_a_started_corral(tmp_path: Path) -> None:
    corral = container("corral")
    probes = {kind: corral[kind]["httpGet"]["path"] for kind in PROBES}
    checks = [
        *re.findall(r"127\.0\.0\.1:8080(/\w+)", (DEPLOY / "Dockerfile").read_text()),
        *re.findall(r"127\.0\.0\.1:8080(/\w+)", (DEPLOY / "compose.yaml").read_text()),
    ]

    with TestClient(create_app(in_process_services(tmp_path))) as client:
        statuses = {path: client.get(path).status_code for path in {*probes.values(), *checks}}

    assert probes["livenessProbe"] == "/healthz" and probes["readinessProbe"] == "/readyz"
    assert checks == ["/healthz", "/readyz"]  # the image: alive; Compose: ready for nginx
    assert set(statuses.values()) == {200}, statuses


# --- the files against each other ---------------------------------------------------------


def test_compose_registers_both_vllm_services_as_weighted_replicas() -> None:
    services = compose()["services"]
    config = tomllib.loads((DEPLOY / "corral.toml").read_text())
    (own,) = [m for m in config["models"] if m["backend"] == "openai-compatible"]
    urls = [r["base_url"] for r in own["replicas"]]
    vllm = sorted(name for name in services if name.startswith("vllm"))

    assert urls == [f"http://{name}:8000/v1" for name in vllm]
    for name in vllm:
        command = services[name]["command"]
        assert command[command.index("--port") + 1] == "8000"
        assert command[command.index("--model") + 1] == own["upstream_model"]


def test_nginx_balances_every_corral_replica_of_compose() -> None:
    nginx = re.sub(r"#.*", "", (DEPLOY / "nginx.conf").read_text())
    upstream = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", nginx, re.MULTILINE)
    (listen,) = re.findall(r"^\s*listen\s+(\d+);", nginx, re.MULTILINE)
    port = tomllib.loads((DEPLOY / "corral.toml").read_text())["server"]["port"]

    assert upstream == [(name, str(port)) for name in sorted(corral_services())]
    assert compose()["services"]["nginx"]["ports"] == [f"8080:{listen}"]
    assert "ip_hash" not in nginx and "sticky" not in nginx


def test_kubernetes_names_and_ports_refer_to_each_other(tmp_path: Path) -> None:
    for name in ("corral", "vllm"):
        deployment, service = k8s("Deployment", name), k8s("Service", name)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        port_names = {p["name"] for p in container(name)["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
        assert container(name)["resources"]["requests"], f"{name} requests no resources"

    ingress = k8s("Ingress", "corral")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert ingress["service"]["name"] == "corral"
    assert ingress["service"]["port"]["name"] in {
        p["name"] for p in k8s("Service", "corral")["spec"]["ports"]
    }

    settings = load_settings(k8s_config_file(tmp_path), embedded_model=False)
    vllm_port = k8s("Service", "vllm")["spec"]["ports"][0]["port"]
    base_urls = [getattr(m, "base_url", None) for m in settings.models]
    assert f"http://vllm:{vllm_port}/v1" in base_urls
    corral_port = container("corral")["ports"][0]["containerPort"]
    assert settings.server.port == corral_port


def test_every_secret_a_container_needs_is_declared() -> None:
    for name in ("corral", "vllm"):
        for var in container(name)["env"]:
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                assert ref["key"] in k8s("Secret", ref["name"])["stringData"], var["name"]


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed (apt-get install nginx)",
)
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    # nginx resolves upstream hosts while parsing; Compose's service names exist only there.
    text = re.sub(r"server\s+corral-\d+:", "server 127.0.0.1:", (DEPLOY / "nginx.conf").read_text())
    (tmp_path / "nginx.conf").write_text(text)
    command = [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    command += ["-e", "stderr", "-g", f"pid {tmp_path / 'nginx.pid'};"]

    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 0, result.stderr


def test_the_image_installs_only_hash_pinned_packages() -> None:
    steps = dockerfile()
    bases = [args.split()[0] for instruction, args in steps if instruction == "FROM"]
    runs = [cmd.strip() for i, args in steps if i == "RUN" for cmd in args.split("&&")]
    pip = [cmd.split() for cmd in runs if re.search(r"pip (install|download)\b", cmd)]

    assert bases and set(bases) == {"python:3.11-slim"}
    assert [
        w for w in pip[0] if w in {"--require-hashes", "--no-deps", "-r", "requirements.lock"}
    ] == ["--require-hashes", "--no-deps", "-r", "requirements.lock"]
    for words in pip:
        assert "--require-hashes" in words or ("--no-deps" in words and words[-1] == "."), words


def test_the_image_copies_only_what_its_dockerignore_lets_through() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = [
        word.rstrip("/")
        for instruction, args in dockerfile()
        if instruction == "COPY" and "--from" not in args
        for word in args.split()[:-1]
    ]

    assert copied and set(copied) <= allowed
    assert all((ROOT / path).exists() for path in copied)
