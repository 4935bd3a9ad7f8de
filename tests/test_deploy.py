"""The rendered container, local stack, Kubernetes manifests and CI workflow: valid for their
tools, holding exactly the selected resources, and consistent with the service's own settings.

No container engine is needed: each file is checked against its schema or linter, and the
numbers that must fit together (grace periods, timeouts, connection counts) are read from the
rendered code rather than repeated here. The pairwise set holds every pair of answers, which is
what these files combine: a service per resource, and Redis shared by the cache and the broker.
"""

import ast
import fnmatch
import json
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .conftest import Rendered
from .helpers import combination_id, pairwise_combinations, run

PAIRWISE = pairwise_combinations()
KUBERNETES_VERSION = "1.37.0"
"""A version whose schemas kubernetes-validate ships; the manifests use only stable APIs."""
PACKAGE = "my_service"
PREFIX = "MY_SERVICE_"
SLUG = "my-service"
SERVER_CONNECTION_LIMITS = {"postgresql": 100, "mysql": 151}
"""The servers' default connection limits (PostgreSQL `max_connections`, MariaDB's)."""
DATABASE_SERVERS = [a for a in PAIRWISE if a["database"] in SERVER_CONNECTION_LIMITS]


@pytest.fixture(params=PAIRWISE, ids=[combination_id(a) for a in PAIRWISE])
def answers(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param


@pytest.fixture
def project(rendered: Rendered, answers: dict[str, Any]) -> Path:
    return rendered(answers)


def database_of(answers: dict[str, Any]) -> str:
    return answers["database"]


def broker_of(answers: dict[str, Any]) -> str:
    return answers.get("broker", "none")


def uses_redis(answers: dict[str, Any]) -> bool:
    return answers.get("cache", "none") == "redis" or broker_of(answers) == "redis"


def has_servers(answers: dict[str, Any]) -> bool:
    return (
        database_of(answers) in SERVER_CONNECTION_LIMITS
        or uses_redis(answers)
        or answers.get("object_storage", "none") == "s3"
        or broker_of(answers) != "none"
    )


# --- defaults read from the rendered code -------------------------------------------------


def _class_field_default(path: Path, class_name: str, field: str) -> float:
    """The default of a field written as `x: T = 1` or `x: T = Field(default=1)`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for statement in node.body:
                if (
                    isinstance(statement, ast.AnnAssign)
                    and isinstance(statement.target, ast.Name)
                    and statement.target.id == field
                    and statement.value is not None
                ):
                    value = statement.value
                    if isinstance(value, ast.Call):
                        value = next(k.value for k in value.keywords if k.arg == "default")
                    return ast.literal_eval(value)
    raise AssertionError(f"{path}: no default for {class_name}.{field}")


def _module_constant(path: Path, name: str) -> float:
    for node in ast.parse(path.read_text()).body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path}: no constant {name}")


def shutdown_seconds(project: Path, answers: dict[str, Any]) -> float:
    """What a stopping process may take after SIGTERM: the server's graceful shutdown timeout,
    then, with a broker, the consumers' drain timeout and the supervisor's margin beyond it."""
    source = project / "src" / PACKAGE
    seconds = _class_field_default(
        source / "settings.py", "ServerSettings", "graceful_shutdown_timeout"
    )
    if broker_of(answers) != "none":
        seconds += _class_field_default(
            source / "messaging" / "settings.py", "BrokerSettings", "drain_timeout"
        )
        seconds += _module_constant(source / "resources" / "selected.py", "STOP_MARGIN")
    return seconds


def settings_names(project: Path) -> set[str]:
    """Every variable the service reads; `tests/test_settings.py` keeps .env.example complete."""
    return set(re.findall(r"^# ([A-Z][A-Z0-9_]*)=", (project / ".env.example").read_text(), re.M))


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def duration_seconds(value: str) -> float:
    """A Compose duration such as `45s` or `1m30s`."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value)
    assert parts and "".join(n + u for n, u in parts) == value, value
    return sum(float(number) * units[unit] for number, unit in parts)


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions(project: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in (project / "Dockerfile").read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            logical.append(current)
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def final_stage(project: Path) -> list[tuple[str, str]]:
    instructions = dockerfile_instructions(project)
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def test_the_dockerfile_builds_with_uv_and_runs_the_server_in_exec_form(
    project: Path, answers: dict[str, Any]
) -> None:
    instructions = dockerfile_instructions(project)
    stage = final_stage(project)
    commands = {name: arguments for name, arguments in stage}
    run_lines = [arguments for name, arguments in instructions if name == "RUN"]

    assert [a.split()[0] for n, a in instructions if n == "FROM"] == [
        f"python:{answers['python_version']}-slim"
    ] * 2
    assert any(a.startswith("--from=ghcr.io/astral-sh/uv:") for n, a in instructions if n == "COPY")
    assert any("uv sync --locked --no-dev" in line for line in run_lines)
    assert all("--mount=type=cache" in line for line in run_lines if "uv sync" in line)
    assert "UV_COMPILE_BYTECODE=1" in " ".join(a for n, a in instructions if n == "ENV")
    assert json.loads(commands["CMD"]) == ["python", "-m", f"{PACKAGE}.server"]
    assert commands["WORKDIR"] == "/app"
    assert commands["EXPOSE"] == "8000"
    environment = " ".join(a for n, a in stage if n == "ENV")
    assert f"{PREFIX}SERVER__HOST=0.0.0.0" in environment
    assert 'PATH="/app/.venv/bin:$PATH"' in environment


def test_the_image_runs_as_a_numeric_non_root_user(project: Path) -> None:
    user = dict(final_stage(project))["USER"]

    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), user


def test_the_image_checks_liveness_without_curl(project: Path) -> None:
    check = dict(final_stage(project))["HEALTHCHECK"]
    command = json.loads(check.split("CMD", 1)[1])

    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert "http://127.0.0.1:8000/health/live" in command[2]
    assert "curl" not in check and "wget" not in check


def test_the_image_copies_only_what_the_build_context_holds(
    project: Path, answers: dict[str, Any]
) -> None:
    """Every COPY source exists once `uv lock` has written uv.lock, and .dockerignore keeps
    none of them out of the context."""
    ignored = [
        line.rstrip("/")
        for line in (project / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    sources = [
        source
        for name, arguments in dockerfile_instructions(project)
        if name == "COPY" and not arguments.startswith("--from")
        for source in shlex.split(arguments)[:-1]
    ]
    migrations = {"alembic.ini", "migrations"}

    assert (
        migrations <= set(sources)
        if database_of(answers) != "none"
        else not (migrations & set(sources))
    )
    for source in sources:
        assert source == "uv.lock" or (project / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_the_image_keeps_the_sqlite_file_on_a_volume(
    project: Path, answers: dict[str, Any]
) -> None:
    environment = " ".join(a for n, a in final_stage(project) if n == "ENV")
    if database_of(answers) != "sqlite":
        assert "DATABASE__URL" not in environment
        return
    stage_runs = " ".join(a for n, a in final_stage(project) if n == "RUN")

    assert f"{PREFIX}DATABASE__URL=sqlite+aiosqlite:////data/{PACKAGE}.db" in environment
    assert "mkdir /data" in stage_runs and "chown" in stage_runs


def development_tool(name: str) -> str:
    """A command installed by a development dependency, beside this interpreter."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is missing: run `uv sync`"
    return found


def test_the_dockerfile_passes_hadolint(project: Path) -> None:
    run([development_tool("hadolint"), "--no-color", "Dockerfile"], project)


# --- compose.yaml ----------------------------------------------------------------------------


@cache
def compose_validator() -> jsonschema.protocols.Validator:
    """The Compose Specification's schema, as check-jsonschema vendors it."""
    schema = json.loads(
        (files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    )
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


def expected_compose_servers(answers: dict[str, Any]) -> set[str]:
    servers = set()
    database = database_of(answers)
    if database == "postgresql":
        servers.add("postgres")
    elif database == "mysql":
        servers.add("mariadb")
    if uses_redis(answers):
        servers.add("redis")
    if answers.get("object_storage", "none") == "s3":
        servers.add("s3")
    if broker_of(answers) in {"rabbitmq", "kafka", "nats"}:
        servers.add(broker_of(answers))
    return servers


def expected_one_shots(answers: dict[str, Any]) -> set[str]:
    one_shots = set()
    if database_of(answers) != "none":
        one_shots.add("migrate")
    if answers.get("object_storage", "none") == "s3":
        one_shots.add("s3-bucket")
    return one_shots


def test_compose_validates_against_the_compose_specification(project: Path) -> None:
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in compose_validator().iter_errors(load_yaml(project / "compose.yaml"))
    ]

    assert errors == []


def test_compose_runs_exactly_the_selected_servers_each_with_a_healthcheck(
    project: Path, answers: dict[str, Any]
) -> None:
    services = load_yaml(project / "compose.yaml")["services"]
    servers = expected_compose_servers(answers)
    one_shots = expected_one_shots(answers)

    assert set(services) == {"app"} | servers | one_shots
    for name in servers:
        assert services[name]["healthcheck"]["test"], name
    assert "healthcheck" not in services["app"]  # the image's HEALTHCHECK applies


def test_compose_starts_the_app_after_healthy_servers_and_finished_one_shots(
    project: Path, answers: dict[str, Any]
) -> None:
    services = load_yaml(project / "compose.yaml")["services"]
    depends_on = services["app"].get("depends_on", {})

    assert {name: spec["condition"] for name, spec in depends_on.items()} == {
        **dict.fromkeys(expected_compose_servers(answers), "service_healthy"),
        **dict.fromkeys(expected_one_shots(answers), "service_completed_successfully"),
    }
    if "migrate" in services:
        migrate = services["migrate"]
        assert migrate["command"] == ["alembic", "upgrade", "head"]
        assert (migrate["build"], migrate["image"]) == (
            services["app"]["build"],
            services["app"]["image"],
        )
        assert {
            name: spec["condition"] for name, spec in migrate.get("depends_on", {}).items()
        } == dict.fromkeys(
            expected_compose_servers(answers) & {"postgres", "mariadb"}, "service_healthy"
        )


def compose_hosts(value: str) -> set[str]:
    """The hosts a connection setting names: a URL's, or each of Kafka's `host:port` list."""
    if "://" in value:
        return {urlsplit(value).hostname or ""}
    return {address.rsplit(":", 1)[0] for address in value.split(",")}


def test_compose_points_every_resource_setting_at_its_service(
    project: Path, answers: dict[str, Any]
) -> None:
    services = load_yaml(project / "compose.yaml")["services"]
    known = settings_names(project)
    for name in ("app", "migrate"):
        environment = services.get(name, {}).get("environment", {})
        assert set(environment) <= known, name
        for variable, value in environment.items():
            if variable.endswith(("__URL", "__BOOTSTRAP_SERVERS")) and "sqlite" not in value:
                assert compose_hosts(value) <= set(services), (variable, value)
    environment = services["app"].get("environment", {})
    expected = set()
    if database_of(answers) in SERVER_CONNECTION_LIMITS:
        expected.add(f"{PREFIX}DATABASE__URL")
    if answers.get("cache", "none") == "redis":
        expected.add(f"{PREFIX}REDIS__URL")
    if answers.get("object_storage", "none") == "s3":
        expected.add(f"{PREFIX}S3__ENDPOINT_URL")
    if broker_of(answers) == "kafka":
        expected.add(f"{PREFIX}BROKER__BOOTSTRAP_SERVERS")
    elif broker_of(answers) != "none":
        expected.add(f"{PREFIX}BROKER__URL")

    assert expected <= set(environment)


def test_compose_keeps_the_sqlite_file_on_a_named_volume(
    project: Path, answers: dict[str, Any]
) -> None:
    compose = load_yaml(project / "compose.yaml")
    if database_of(answers) != "sqlite":
        assert "data" not in (compose.get("volumes") or {})
        return

    assert "data" in compose["volumes"]
    for name in ("app", "migrate"):
        assert "data:/data" in compose["services"][name]["volumes"], name


def test_compose_gives_the_app_time_to_shut_down_gracefully(
    project: Path, answers: dict[str, Any]
) -> None:
    app = load_yaml(project / "compose.yaml")["services"]["app"]

    assert duration_seconds(app["stop_grace_period"]) >= shutdown_seconds(project, answers)


def test_nats_runs_with_jetstream(project: Path, answers: dict[str, Any]) -> None:
    services = load_yaml(project / "compose.yaml")["services"]
    if broker_of(answers) != "nats":
        assert "nats" not in services
        return

    assert "-js" in services["nats"]["command"]


# --- Kubernetes manifests --------------------------------------------------------------------


def manifests(project: Path) -> dict[str, dict[str, Any]]:
    """Every manifest in deploy/ by file name, the kustomization left out."""
    return {
        path.name: load_yaml(path)
        for path in sorted((project / "deploy").glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def by_kind(project: Path) -> dict[str, dict[str, Any]]:
    documents = manifests(project)
    kinds = [document["kind"] for document in documents.values()]
    assert len(kinds) == len(set(kinds)), kinds
    return {document["kind"]: document for document in documents.values()}


def pod_spec(project: Path) -> dict[str, Any]:
    return by_kind(project)["Deployment"]["spec"]["template"]["spec"]


def app_container(project: Path) -> dict[str, Any]:
    (container,) = pod_spec(project)["containers"]
    return container


@cache
def kubernetes_errors(document: str) -> str | None:
    """Why a manifest (as JSON) fails the schemas; remembered, as most recur across answers and
    each validation parses the whole schema anew."""
    try:
        kubernetes_validate.validate(json.loads(document), KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{error.message} at {list(error.absolute_path)}"
    return None


def test_the_manifests_validate_against_the_kubernetes_schemas(project: Path) -> None:
    errors = {
        name: kubernetes_errors(json.dumps(document, sort_keys=True))
        for name, document in manifests(project).items()
    }

    assert {name: error for name, error in errors.items() if error} == {}


def test_the_kustomization_lists_every_manifest_but_the_secret_example(
    project: Path, answers: dict[str, Any]
) -> None:
    kustomization = load_yaml(project / "deploy" / "kustomization.yaml")
    listed = kustomization["resources"]
    present = set(manifests(project))
    kinds = {document["kind"] for document in manifests(project).values()}
    always = {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }

    assert len(listed) == len(set(listed))
    assert set(listed) == present - {"secret.example.yaml"}
    assert ("secret.example.yaml" in present) == has_servers(answers)
    assert always <= kinds
    assert ("Job" in kinds) == (database_of(answers) in SERVER_CONNECTION_LIMITS)
    assert [image["name"] for image in kustomization["images"]] == [SLUG]


def test_the_probes_point_at_the_health_routes(project: Path) -> None:
    container = app_container(project)
    health = (project / "src" / PACKAGE / "api" / "health.py").read_text()
    prefix = re.search(r'APIRouter\(prefix="([^"]+)"', health)
    assert prefix
    routes = {prefix[1] + path for path in re.findall(r'@router\.get\("([^"]+)"', health)}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    server_port = _class_field_default(
        project / "src" / PACKAGE / "settings.py", "ServerSettings", "port"
    )

    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] in routes, probe
        assert ports[container[probe]["httpGet"]["port"]] == server_port, probe
    (service_port,) = by_kind(project)["Service"]["spec"]["ports"]
    assert ports[service_port["targetPort"]] == server_port


def test_the_readiness_probe_outwaits_the_readiness_checks(project: Path) -> None:
    readiness_timeout = _class_field_default(
        project / "src" / PACKAGE / "settings.py", "Settings", "readiness_timeout"
    )

    assert app_container(project)["readinessProbe"]["timeoutSeconds"] > readiness_timeout


def test_the_grace_period_covers_the_pause_and_the_graceful_shutdown(
    project: Path, answers: dict[str, Any]
) -> None:
    """Kubernetes counts the grace period from the start of preStop, and sends SIGKILL at its
    end: the pause, the server's graceful shutdown and, with a broker, the consumers' drain
    must all fit in it."""
    pre_stop = app_container(project)["lifecycle"]["preStop"]
    command = pre_stop["exec"]["command"] if "exec" in pre_stop else None
    pause = float(command[1]) if command else pre_stop["sleep"]["seconds"]

    assert command is None or command[0] == "sleep"
    assert pause > 0
    assert pod_spec(project)["terminationGracePeriodSeconds"] >= pause + shutdown_seconds(
        project, answers
    )


def test_the_pods_run_as_the_images_non_root_user_on_a_read_only_root(project: Path) -> None:
    spec = pod_spec(project)
    user, group = (int(part) for part in dict(final_stage(project))["USER"].split(":"))
    mounts = {mount["mountPath"]: mount["name"] for mount in app_container(project)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}

    assert spec["securityContext"]["runAsNonRoot"] is True
    assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (
        user,
        group,
    )
    for container in spec["containers"] + spec.get("initContainers", []):
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_the_pods_read_the_config_map_and_the_secret(
    project: Path, answers: dict[str, Any]
) -> None:
    kinds = by_kind(project)
    sources = app_container(project)["envFrom"]
    known = settings_names(project)
    config = kinds["ConfigMap"]

    assert {"configMapRef": {"name": config["metadata"]["name"]}} in sources
    assert "WEB_CONCURRENCY" in config["data"]
    assert set(config["data"]) <= known
    secrets = [source["secretRef"]["name"] for source in sources if "secretRef" in source]
    if not has_servers(answers):
        assert secrets == []
        return
    example = load_yaml(project / "deploy" / "secret.example.yaml")
    assert secrets == [example["metadata"]["name"]]
    assert example["stringData"] and set(example["stringData"]) <= known
    assert all(
        "CHANGE-ME" in value or "example" in value for value in example["stringData"].values()
    )


def test_the_selectors_pick_the_service_pods_and_not_the_migration(project: Path) -> None:
    kinds = by_kind(project)
    labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, str], pod_labels: dict[str, str]) -> bool:
        return selector.items() <= pod_labels.items()

    assert selects(kinds["Deployment"]["spec"]["selector"]["matchLabels"], labels)
    assert selects(kinds["Service"]["spec"]["selector"], labels)
    assert selects(kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"], labels)
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": kinds["Deployment"]["metadata"]["name"],
    }
    assert kinds["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2
    assert (
        kinds["PodDisruptionBudget"]["spec"]["minAvailable"]
        < kinds["Deployment"]["spec"]["replicas"]
    )
    if "Job" in kinds:
        job_labels = kinds["Job"]["spec"]["template"]["metadata"]["labels"]
        assert not selects(kinds["Service"]["spec"]["selector"], job_labels)
        assert not selects(
            kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"], job_labels
        )


def test_migrations_run_once_with_the_service_image_and_settings(
    project: Path, answers: dict[str, Any]
) -> None:
    kinds = by_kind(project)
    spec = pod_spec(project)
    database = database_of(answers)
    if database in SERVER_CONNECTION_LIMITS:
        (migrate,) = kinds["Job"]["spec"]["template"]["spec"]["containers"]
    elif database == "sqlite":
        (migrate,) = spec["initContainers"]
    else:
        assert "Job" not in kinds and "initContainers" not in spec
        return

    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert migrate["image"] == app_container(project)["image"]
    assert migrate["envFrom"] == app_container(project)["envFrom"]


@pytest.mark.parametrize(
    "server_answers",
    DATABASE_SERVERS,
    ids=[combination_id(a) for a in DATABASE_SERVERS],
)
def test_the_service_at_full_scale_fits_the_database_connection_limit(
    rendered: Rendered, server_answers: dict[str, Any]
) -> None:
    project = rendered(server_answers)
    database = database_of(server_answers)
    kinds = by_kind(project)
    config = kinds["ConfigMap"]["data"]
    settings = project / "src" / PACKAGE / "db" / "settings.py"

    def setting(field: str) -> float:
        variable = f"{PREFIX}DATABASE__{field.upper()}"
        if variable in config:
            return int(config[variable])
        return _class_field_default(settings, "DatabaseSettings", field)

    per_worker = setting("pool_size") + setting("max_overflow")
    replicas = kinds["HorizontalPodAutoscaler"]["spec"]["maxReplicas"]
    migration = 1

    assert (
        replicas * int(config["WEB_CONCURRENCY"]) * per_worker + migration
        <= SERVER_CONNECTION_LIMITS[database]
    )


# --- the CI workflow -------------------------------------------------------------------------


def workflow(project: Path) -> dict[Any, Any]:
    return load_yaml(project / ".github" / "workflows" / "ci.yml")


def steps_run(job: dict[str, Any]) -> Iterator[str]:
    for step in job["steps"]:
        if "run" in step:
            yield step["run"]


def test_the_workflow_passes_actionlint(project: Path) -> None:
    run([development_tool("actionlint"), "-no-color", ".github/workflows/ci.yml"], project)


def test_the_workflow_lints_type_checks_tests_and_checks_for_template_updates(
    project: Path,
) -> None:
    jobs = workflow(project)["jobs"]

    assert set(jobs) == {"lint", "type-check", "test", "template-update"}
    assert {"uv run ruff check .", "uv run ruff format --check ."} <= set(steps_run(jobs["lint"]))
    assert "uv run mypy" in steps_run(jobs["type-check"])
    assert "uv run pytest" in steps_run(jobs["test"])
    assert jobs["test"]["env"]["REQUIRE_SERVICES"] == "1"
    assert any("copier check-update" in line for line in steps_run(jobs["template-update"]))
    for job in jobs.values():
        uses = [step["uses"] for step in job["steps"] if "uses" in step]
        assert any(action.startswith("astral-sh/setup-uv@v") for action in uses)
        assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", action) for action in uses), uses


def test_the_workflow_starts_exactly_the_servers_the_tests_expect(
    project: Path, answers: dict[str, Any]
) -> None:
    """Kafka runs in the tests' process (librdkafka's mock cluster), S3 is moto's server, and
    NATS needs `-js`, which a service container cannot pass, so it starts from a step."""
    test = workflow(project)["jobs"]["test"]
    services = test.get("services", {})
    expected = {
        "postgres": (database_of(answers) == "postgresql", 5432),
        "mariadb": (database_of(answers) == "mysql", 3306),
        "redis": (uses_redis(answers), 6379),
        "rabbitmq": (broker_of(answers) == "rabbitmq", 5672),
    }

    assert set(services) == {name for name, (selected, _) in expected.items() if selected}
    for name, service in services.items():
        assert service["ports"] == [f"{expected[name][1]}:{expected[name][1]}"], name
        assert "--health-cmd" in service["options"], name
    if "postgres" in services:
        assert services["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
        assert services["postgres"]["env"]["POSTGRES_DB"] == PACKAGE
    if "mariadb" in services:
        assert services["mariadb"]["env"]["MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"] == "1"
        assert services["mariadb"]["env"]["MARIADB_DATABASE"] == PACKAGE
    nats = [line for line in steps_run(test) if "docker run" in line]
    if broker_of(answers) == "nats":
        (command,) = nats
        assert "-p 4222:4222" in command or "--publish 4222:4222" in command
        assert " -js" in command
    else:
        assert nats == []
