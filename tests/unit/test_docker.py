"""docker/ agrees with itself, with the repository and with the hub's settings.

No Docker engine is involved: compose.yaml is parsed with PyYAML (anchors and merge keys
resolved) and interpolated the way Compose does it, with the values of .env.example;
the Dockerfile is read as text.
"""

import json
import posixpath
import re
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel

from connectors.identity.feide_ldap import LdapSourceSettings
from connectors.settings import SecretRef
from hub.settings import ENVIRONMENT, HubSettings, parse_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = DOCKER / "Dockerfile.dockerignore"
ENV_EXAMPLE = DOCKER / ".env.example"
HUB_YAML_EXAMPLE = DOCKER / "hub.yaml.example"
LOCK = ROOT / "requirements" / "deploy-lock.txt"

AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
)
KAFKA_SERVICES = ("kafka-1", "kafka-2", "kafka-3")
REQUIRED_HUB_VARIABLES = {"HUB_CONFIG", "HUB_DATABASE_URL", "HUB_KAFKA_BOOTSTRAP", "HUB_HMAC_KEY"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY")

# Compose interpolation: $$ is a literal $, then ${NAME}, ${NAME:-default}, ${NAME-default},
# ${NAME:?error}, ${NAME?error}, ${NAME:+alternative}, ${NAME+alternative} and $NAME.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


# --- reading the files ---------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a Compose env file, without comments and blank lines."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def walk_strings(node: Any, visit: Callable[[str], str]) -> Any:
    """Return `node` with every string value replaced by `visit(string)`; keys stay."""
    if isinstance(node, dict):
        return {key: walk_strings(value, visit) for key, value in node.items()}
    if isinstance(node, list):
        return [walk_strings(item, visit) for item in node]
    if isinstance(node, str):
        return visit(node)
    return node


def strings(node: Any) -> Iterator[str]:
    """Every string value in a parsed YAML document."""
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def interpolate(text: str, values: dict[str, str]) -> str:
    """Substitute Compose variables in one value, failing on a required one that is empty."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"] or "", match["arg"] or ""
        value = values.get(name, "")
        if op in (":?", "?") and not value:
            raise ValueError(f"{name} is required: {arg}")
        if op == ":-":
            return value or arg
        if op == "-":
            return values.get(name, arg)
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return arg if name in values else ""
        return value

    return _VARIABLE.sub(substitute, text)


def variable_names(text: str) -> set[str]:
    """Names of the variables a value interpolates."""
    return {
        match["braced"] or match["plain"]
        for match in _VARIABLE.finditer(text)
        if not match["escaped"]
    }


@cache
def raw_compose() -> dict[str, Any]:
    """compose.yaml as YAML, anchors resolved, before interpolation."""
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@cache
def example_values() -> dict[str, str]:
    """.env.example, with each empty secret replaced by a URL-safe stand-in value."""
    return {
        name: value or f"example{name.lower().replace('_', '')}"
        for name, value in read_env_file(ENV_EXAMPLE).items()
    }


@cache
def compose() -> dict[str, Any]:
    """compose.yaml as `docker compose --env-file docker/.env.example config` would see it."""
    return walk_strings(raw_compose(), lambda value: interpolate(value, example_values()))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: str) -> dict[str, str]:
    """A service's environment as strings, from either the mapping or the list form."""
    env = services()[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def mounts(service: str) -> Iterator[tuple[str, str]]:
    """(source, target) of every volume of a service, short or long syntax."""
    for volume in services()[service].get("volumes") or []:
        if isinstance(volume, dict):
            yield volume.get("source", ""), volume["target"]
        else:
            source, _, rest = volume.partition(":")
            yield source, rest.split(":")[0]


def is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """`NAME://host:port,...` as {NAME: (host, port)}."""
    result = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        result[name] = (host, int(port))
    return result


def init_script() -> Path:
    """The SQL script the postgres service runs on its first start."""
    (source,) = [
        source
        for source, target in mounts("postgres")
        if target.startswith("/docker-entrypoint-initdb.d/")
    ]
    return (DOCKER / source).resolve()


def created(kind: str) -> set[str]:
    """Names of the databases or roles the init script creates."""
    sql = init_script().read_text(encoding="utf-8")
    return set(re.findall(rf"^\s*CREATE {kind} (\w+)", sql, flags=re.IGNORECASE | re.MULTILINE))


def hub_settings() -> HubSettings:
    return parse_settings(yaml.safe_load(HUB_YAML_EXAMPLE.read_text(encoding="utf-8")))


def ldap_sources() -> list[tuple[str, LdapSourceSettings]]:
    return [
        (tenant.id, source)
        for tenant in hub_settings().tenants
        for source in tenant.sources
        if source.type == "feide_ldap"
    ]


def secret_refs(node: object, path: str) -> Iterator[tuple[str, SecretRef]]:
    """Every SecretRef in the settings, with the dotted path that leads to it."""
    if isinstance(node, SecretRef):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from secret_refs(getattr(node, name), f"{path}.{name}")
    elif isinstance(node, tuple | list):
        for index, item in enumerate(node):
            yield from secret_refs(item, f"{path}.{getattr(item, 'id', index)}")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    lines = [
        line
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (keyword.upper(), arguments.strip())
        for keyword, _, arguments in (line.strip().partition(" ") for line in joined.splitlines())
        if keyword
    ]


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context."""
    result = []
    for keyword, arguments in dockerfile_instructions():
        words = arguments.split()
        if keyword == "COPY" and not any(word.startswith("--from") for word in words):
            paths = [word for word in words if not word.startswith("--")]
            result.append((paths[:-1], paths[-1]))
    return result


# --- compose.yaml: services and the hub ----------------------------------------------


def test_compose_defines_every_service() -> None:
    """Every service the deployment needs is defined in compose.yaml."""
    expected = {*AIRFLOW_SERVICES, *KAFKA_SERVICES, "postgres", "redis", "openldap"}
    assert set() == expected - set(services())


def test_airflow_services_share_the_common_block_and_build_the_hub_image() -> None:
    """All Airflow services come from x-airflow-common and build docker/Dockerfile."""
    assert "x-airflow-common" in raw_compose()
    builds = {
        name: (
            DOCKER / services()[name]["build"]["context"] / services()[name]["build"]["dockerfile"]
        ).resolve()
        for name in AIRFLOW_SERVICES
    }
    assert dict.fromkeys(AIRFLOW_SERVICES, DOCKERFILE.resolve()) == builds


def test_every_hub_variable_in_compose_is_one_the_hub_reads() -> None:
    """A HUB_* variable set on any service is a key of hub.settings.ENVIRONMENT."""
    unknown = {
        f"{service}: {name}"
        for service in services()
        for name in environment(service)
        if name.startswith("HUB_") and name not in ENVIRONMENT
    }
    assert set() == unknown


def test_airflow_services_set_the_hub_variables() -> None:
    """Every Airflow service sets the hub variables it cannot run without."""
    missing = {
        service: REQUIRED_HUB_VARIABLES - set(environment(service)) for service in AIRFLOW_SERVICES
    }
    assert dict.fromkeys(AIRFLOW_SERVICES, set()) == missing


def test_kafka_bootstrap_lists_the_sasl_ssl_client_listener_of_each_kafka_service() -> None:
    """HUB_KAFKA_BOOTSTRAP names exactly the Kafka services at their SASL_SSL client port."""
    advertised = set()
    for service in KAFKA_SERVICES:
        env = environment(service)
        protocols = dict(
            entry.split(":") for entry in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
        )
        assert "PLAINTEXT" not in protocols.values()
        assert "SASL_SSL" == protocols["CLIENT"]
        host, port = listeners(env["KAFKA_ADVERTISED_LISTENERS"])["CLIENT"]
        assert (service, port) == (host, listeners(env["KAFKA_LISTENERS"])["CLIENT"][1])
        advertised.add(f"{host}:{port}")
    for service in AIRFLOW_SERVICES:
        assert advertised == set(environment(service)["HUB_KAFKA_BOOTSTRAP"].split(","))


def test_hub_database_url_is_the_postgres_service_and_a_database_the_init_script_creates() -> None:
    """HUB_DATABASE_URL is psycopg2 to the postgres service, as a role and database of init SQL."""
    url = urlsplit(environment("airflow-worker")["HUB_DATABASE_URL"])
    assert "postgresql+psycopg2" == url.scheme
    assert "postgres" == url.hostname
    assert "postgres" in services()
    assert url.path.lstrip("/") in created("DATABASE")
    assert url.username in created("ROLE")


def test_airflow_metadata_database_is_separate_from_the_hub_store() -> None:
    """Airflow's metadata database and the hub's store are two databases with two roles."""
    env = environment("airflow-scheduler")
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    store = urlsplit(env["HUB_DATABASE_URL"])
    assert "postgres" == metadata.hostname
    assert metadata.path.lstrip("/") in created("DATABASE")
    assert metadata.path != store.path
    assert metadata.username != store.username


def test_airflow_runs_celery_through_redis_and_the_execution_api_of_the_api_server() -> None:
    """Celery brokers through the redis service and tasks reach the api-server's execution API."""
    env = environment("airflow-worker")
    assert "CeleryExecutor" == env["AIRFLOW__CORE__EXECUTOR"]
    assert "redis" == urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname
    assert "postgres" == urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname
    execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert ("airflow-apiserver", 8080, "/execution/") == (
        execution_api.hostname,
        execution_api.port,
        execution_api.path,
    )
    assert "false" == env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower()


# --- compose.yaml: volumes, paths, variables, dependencies ---------------------------


def test_named_volumes_are_declared_and_used() -> None:
    """The named volumes the services mount are exactly the ones declared at the top level."""
    used = {
        source
        for service in services()
        for source, _ in mounts(service)
        if source and not is_host_path(source)
    }
    assert set(compose().get("volumes") or {}) == used


def test_host_paths_mounted_exist_in_the_repository() -> None:
    """Host paths mounted (dags, plugins, init SQL, hub.yaml.example) exist relative to docker/."""
    mounted = {
        (DOCKER / source).resolve()
        for service in services()
        for source, _ in mounts(service)
        if is_host_path(source)
    }
    expected = {
        ROOT / "dags",
        ROOT / "plugins",
        DOCKER / "postgres" / "init-databases.sql",
        HUB_YAML_EXAMPLE,
    }
    assert set() == expected - mounted
    assert [] == sorted(str(path) for path in mounted if not path.exists())


def test_hub_yaml_is_mounted_where_hub_config_points() -> None:
    """Each long-running Airflow service mounts a hub.yaml at the path of its HUB_CONFIG."""
    unmounted = {
        service
        for service in AIRFLOW_SERVICES
        if service != "airflow-init"
        and environment(service)["HUB_CONFIG"] not in {target for _, target in mounts(service)}
    }
    assert set() == unmounted


def test_every_interpolated_variable_is_in_env_example() -> None:
    """The variables compose.yaml interpolates are exactly those .env.example lists."""
    interpolated = {name for value in strings(raw_compose()) for name in variable_names(value)}
    assert interpolated == set(read_env_file(ENV_EXAMPLE))


def test_env_example_holds_no_secret_values() -> None:
    """Every password, secret or key in .env.example is left empty for the operator to fill in."""
    filled = {
        name
        for name, value in read_env_file(ENV_EXAMPLE).items()
        if SECRET_NAME.search(name) and value
    }
    assert set() == filled


def test_depends_on_targets_exist_and_can_satisfy_their_condition() -> None:
    """Every depends_on target is a service, with a healthcheck when it must be service_healthy."""
    problems = []
    for name, service in services().items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            depends_on = {target: {} for target in depends_on}
        for target, spec in depends_on.items():
            if target not in services():
                problems.append(f"{name} -> {target}: no such service")
            elif (
                spec.get("condition") == "service_healthy"
                and "healthcheck" not in services()[target]
            ):
                problems.append(f"{name} -> {target}: service_healthy but no healthcheck")
    assert [] == problems


# --- compose.yaml: Kafka --------------------------------------------------------------


def test_kafka_nodes_agree_on_the_quorum_and_have_distinct_node_ids() -> None:
    """Kafka nodes share cluster id and voters; each voter is a node at its controller port."""
    envs = {service: environment(service) for service in KAFKA_SERVICES}
    assert 1 == len({env["KAFKA_CONTROLLER_QUORUM_VOTERS"] for env in envs.values()})
    assert 1 == len({env["CLUSTER_ID"] for env in envs.values()})
    node_ids = [env["KAFKA_NODE_ID"] for env in envs.values()]
    assert len(KAFKA_SERVICES) == len(set(node_ids))
    expected_voters = set()
    for service, env in envs.items():
        controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
        port = listeners(env["KAFKA_LISTENERS"])[controller][1]
        expected_voters.add(f"{env['KAFKA_NODE_ID']}@{service}:{port}")
        assert {"broker", "controller"} == set(env["KAFKA_PROCESS_ROLES"].split(","))
    voters = envs[KAFKA_SERVICES[0]]["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert expected_voters == set(voters.split(","))


@pytest.mark.parametrize("service", KAFKA_SERVICES)
def test_kafka_replicates_three_times_with_two_in_sync(service: str) -> None:
    """Each Kafka node defaults to replication factor 3 and min ISR 2, internal topics included."""
    env = environment(service)
    expected = {
        "KAFKA_DEFAULT_REPLICATION_FACTOR": "3",
        "KAFKA_MIN_INSYNC_REPLICAS": "2",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "2",
    }
    assert expected == {name: env.get(name) for name in expected}


# --- hub.yaml.example -------------------------------------------------------------------


def test_hub_yaml_example_is_valid_with_two_tenants_reading_feide_ldap() -> None:
    """hub.yaml.example validates, with two tenants each reading a feide_ldap source."""
    settings = hub_settings()
    assert 2 == len(settings.tenants)
    assert [["feide_ldap"]] * 2 == [[s.type for s in t.sources] for t in settings.tenants]


def test_hub_yaml_example_logs_in_to_kafka_with_scram_over_tls_as_kafka_setup_creates() -> None:
    """hub.yaml.example's Kafka security: SASL_SSL, the mounted CA, the password compose sets."""
    security = hub_settings().kafka.security
    assert ("SASL_SSL", "SCRAM-SHA-512") == (security.protocol, security.sasl_mechanism)
    assert security.password is not None and security.password.env is not None
    for service in AIRFLOW_SERVICES:
        assert security.password.env in environment(service)
        if service == "airflow-init":  # it never talks to Kafka
            continue
        assert str(security.ca_file).startswith(
            next(t for s, t in mounts(service) if s == "kafka-ca")
        )
    setup = (DOCKER / "kafka" / "setup.sh").read_text(encoding="utf-8")
    assert f"--entity-name {security.username}" in setup
    assert security.password.env in environment("kafka-setup")


def test_hub_yaml_example_replicates_topics_on_every_broker() -> None:
    """The hub creates topics with replication factor 3, one replica per Kafka node."""
    assert len(KAFKA_SERVICES) == hub_settings().kafka.replication_factor


def test_source_secrets_named_in_hub_yaml_reach_the_workers() -> None:
    """Each secret hub.yaml.example names is a variable or an Airflow connection of the workers."""
    env = environment("airflow-worker")
    missing = []
    refs = list(secret_refs(hub_settings(), "hub"))
    assert refs
    for path, ref in refs:
        if ref.env is not None:
            name = ref.env
        else:
            name = f"AIRFLOW_CONN_{str(ref.airflow_conn_id).upper()}"
            if name in env:
                assert json.loads(env[name])["password"], name
        if not env.get(name):
            missing.append(f"{path}: {name}")
    assert [] == missing


def test_ldap_sources_bind_to_the_openldap_stand_in_as_an_account_it_creates() -> None:
    """Each LDAP source points at the openldap service and binds as one of its service accounts."""
    env = environment("openldap")
    root = env["LDAP_ROOT"]
    accounts = {f"cn={user},ou=users,{root}" for user in env["LDAP_USERS"].split(",")}
    for tenant, source in ldap_sources():
        uri = urlsplit(source.uri)
        assert ("openldap", int(env["LDAP_PORT_NUMBER"])) == (uri.hostname, uri.port), tenant
        assert source.bind_dn in accounts, tenant
        assert source.base_dn.endswith(f",{root}"), tenant
    assert len(env["LDAP_USERS"].split(",")) == len(env["LDAP_PASSWORDS"].split(","))


# --- Dockerfile -------------------------------------------------------------------------


def test_dockerfile_copy_sources_exist() -> None:
    """Every COPY source of the Dockerfile exists in the repository (the build context)."""
    sources = [source for paths, _ in copies() for source in paths]
    expected = {"requirements/deploy-lock.txt", "pyproject.toml", "hub/", "dags/", "plugins/"}
    assert expected <= set(sources)
    assert [] == [source for source in sources if not (ROOT / source).exists()]


def test_dockerignore_lets_every_copy_source_into_the_context() -> None:
    """Each COPY source is allowed by the Dockerfile's allow-list, or the build cannot find it."""
    allowed = {
        line[1:].strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    sources = {source.rstrip("/") for paths, _ in copies() for source in paths}
    assert set() == sources - allowed


def test_dockerfile_puts_dags_and_plugins_in_airflow_folders() -> None:
    """dags/ is copied to /opt/airflow/dags and plugins/ to /opt/airflow/plugins."""
    destinations = {source: dest for paths, dest in copies() for source in paths}
    expected = {"dags/": "/opt/airflow/dags/", "plugins/": "/opt/airflow/plugins/"}
    assert expected == {source: destinations.get(source) for source in expected}


def test_dockerfile_installs_the_lock_without_resolving() -> None:
    """The lock is installed with --no-deps from where it was copied, then the project likewise."""
    (lock_destination,) = [
        dest for paths, dest in copies() if paths == ["requirements/deploy-lock.txt"]
    ]
    runs = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN"]
    lock_installs = [
        run
        for run in runs
        if "pip install" in run and "--no-deps" in run and f"-r {lock_destination}" in run
    ]
    project_installs = [
        run for run in runs if re.search(r"pip install [^&]*--no-deps \.(\s|$)", run)
    ]
    assert (1, 1) == (len(lock_installs), len(project_installs))


def test_deploy_lock_has_celery_and_no_test_tools() -> None:
    """The image's lock carries the Celery provider and leaves pytest, ruff and mypy out."""
    names = set(re.findall(r"^([A-Za-z0-9_.-]+)==", LOCK.read_text(encoding="utf-8"), re.M))
    assert {"apache-airflow-providers-celery", "celery", "redis"} <= names
    assert set() == names & {"pytest", "ruff", "mypy"}


def test_deploy_lock_agrees_with_the_test_lock() -> None:
    """Every package both locks pin has the same version, so the image runs what was tested."""

    def pins(path: Path) -> dict[str, str]:
        text = path.read_text(encoding="utf-8")
        return dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", text, re.M))

    deploy, tested = pins(LOCK), pins(ROOT / "requirements" / "lock.txt")
    assert {} == {n: (v, tested[n]) for n, v in deploy.items() if n in tested and tested[n] != v}


def test_dockerfile_airflow_and_python_versions_match_the_lock() -> None:
    """The base image has the Airflow the lock pins and the Python the lock was built for."""
    (base,) = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    tag = re.fullmatch(r"apache/airflow:(?P<airflow>[\w.]+)-python(?P<python>[\d.]+)", base)
    assert tag is not None, base
    lock = LOCK.read_text(encoding="utf-8")
    pinned = re.search(r"^apache-airflow==([^\s\\;]+)", lock, flags=re.MULTILINE)
    built_for = re.search(r"--python-version[ =]([\d.]+)", lock)
    assert pinned is not None and built_for is not None
    assert (pinned[1], built_for[1]) == (tag["airflow"], tag["python"])


# --- the image's files ------------------------------------------------------------------


def dockerignore_pattern(pattern: str) -> re.Pattern[str]:
    """A dockerignore pattern as a regex over slash-separated paths (`**`, `*`, `?`)."""
    parts = []
    for segment in pattern.strip("/").split("/"):
        if segment == "**":
            parts.append("(?:[^/]+/)*")
            continue
        text = re.sub(
            r"\\\*|\\\?", lambda m: "[^/]*" if m[0] == r"\*" else "[^/]", re.escape(segment)
        )
        parts.append(text + "/")
    return re.compile("".join(parts).removesuffix("/") + "$")


def in_build_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the dockerignore sends `path`: the last rule matching it or a parent folder wins."""
    prefixes = ["/".join(path.split("/")[: n + 1]) for n in range(path.count("/") + 1)]
    sent = True
    for allowed, pattern in rules:
        if any(pattern.match(prefix) for prefix in prefixes):
            sent = allowed
    return sent


def image_files() -> dict[str, str]:
    """{path in the image: repository file} for every tracked file the Dockerfile puts in it.

    The files `git ls-files` lists, filtered by the dockerignore, copied by each COPY from
    the context (a folder source brings what is under it, destinations relative to the
    WORKDIR of the moment), minus what a RUN removes with `rm`.
    """
    rules = [
        (line.startswith("!"), dockerignore_pattern(line.removeprefix("!").strip()))
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    context = [path for path in tracked if in_build_context(path, rules)]
    files: dict[str, str] = {}
    workdir = "/"
    for keyword, arguments in dockerfile_instructions():
        words = arguments.split()
        if keyword == "WORKDIR":
            workdir = posixpath.join(workdir, arguments)
        elif keyword == "COPY" and not any(word.startswith("--from") for word in words):
            *sources, destination = [word for word in words if not word.startswith("--")]
            destination = posixpath.join(workdir, destination)
            for source in sources:
                folder = source.rstrip("/")
                for path in context:
                    if path == folder:
                        target = destination
                        if destination.endswith("/"):
                            target = posixpath.join(destination, posixpath.basename(path))
                        files[target] = path
                    elif path.startswith(folder + "/"):
                        files[posixpath.join(destination, path[len(folder) + 1 :])] = path
        elif keyword == "RUN":
            for command in re.split(r"&&|;", arguments):
                removed = command.split()
                if removed[:1] == ["rm"]:
                    for target in (word for word in removed[1:] if not word.startswith("-")):
                        gone = posixpath.normpath(posixpath.join(workdir, target))
                        files = {
                            image: repo
                            for image, repo in files.items()
                            if image != gone and not image.startswith(gone + "/")
                        }
    return files


def test_image_holds_the_product_and_no_development_code() -> None:
    """The image gets the hub, DAGs and plugin, and no hub/dev, tests/ or bench/ file."""
    files = set(image_files().values())
    assert {"hub/cli.py", "hub/sync.py", "dags/hub_identity_sync.py"} <= files
    assert {"plugins/skolehub_plugin.py", "connectors/http.py", "schemas/envelope.py"} <= files
    assert [] == sorted(path for path in files if path.startswith(("hub/dev/", "tests/", "bench/")))


def test_image_file_list_sees_what_the_dockerignore_lets_through() -> None:
    """The image's file list is computed, not assumed: without hub/dev ignored it would hold it."""
    rules = [(False, dockerignore_pattern("*")), (True, dockerignore_pattern("hub/"))]
    assert in_build_context("hub/dev/sandbox/slapd.py", rules)
    rules.append((False, dockerignore_pattern("hub/dev")))
    assert not in_build_context("hub/dev/sandbox/slapd.py", rules)
    assert in_build_context("hub/cli.py", rules)
    assert not in_build_context("tests/unit/test_docker.py", rules)
    assert not in_build_context(
        "hub/__pycache__/cli.pyc", [*rules, (False, dockerignore_pattern("**/__pycache__"))]
    )
