"""A private OpenLDAP slapd for the sandbox and the tests: its own folder, loopback port.

`SlapdServer(home)` keeps everything under `home`: the cn=config folder built with
`slapadd -n0` (core, cosine, inetorgperson and the eduPerson/norEdu* schemas in
`hub/dev/sandbox/ldap/`), the mdb database, the pid file, the chosen ports and two generated
passwords (admin and a read-only service account), each in a 0600 file. slapd runs as the
current user, detaches into its own session and writes a pid file, so `status()` and
`stop()` work from any process that names the same `home`.

Bulk loads: `load_ldif()` and `load_owners()` use `slapadd -q` when the server is stopped
(100,000 people in well under a minute) and `ldapadd` as the admin when it is running
(fine for a tenant of a few thousand people). So load big populations before `start()`.

Searches by anyone but the admin are capped at 500 entries (`size.soft=500`,
`size.hard=unlimited`): a client that does not page gets sizeLimitExceeded after 500
entries, a client that pages (RFC 2696, built into slapd) gets everything. The hub should
read as `cn=hub-reader,<suffix>` (`reader_dn`/`reader_password`), which may read the whole
tree except `userPassword`; the admin (root DN) bypasses limits and ACLs and is for tests
that modify the directory.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from hub.dev._services import process_alive
from hub.dev.sandbox.ldif import DEFAULT_SUFFIX, LdifStats, format_entry, suffix_entry, write_ldif
from hub.dev.sandbox.population import SchoolOwner

with warnings.catch_warnings():
    # ldap3 2.9.1 imports names that pyasn1 >= 0.6.1 deprecates (tagMap, typeMap).
    warnings.filterwarnings("ignore", r"(tagMap|typeMap) is deprecated", DeprecationWarning)
    import ldap3

__all__ = [
    "SCHEMA_DIR",
    "SlapdError",
    "SlapdNotFoundError",
    "SlapdServer",
    "SlapdStatus",
    "SlapdTools",
    "find_tools",
]

log = structlog.get_logger(__name__)

#: The eduPerson and norEdu* schemas shipped with the package.
SCHEMA_DIR = Path(__file__).parent / "ldap"
#: Entries a non-admin search returns before slapd answers sizeLimitExceeded.
SOFT_SIZE_LIMIT = 500

_SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin", "/usr/libexec")
_MODULE_DIRS = (
    "/usr/lib/ldap",
    "/usr/lib/x86_64-linux-gnu/ldap",
    "/usr/lib64/openldap",
    "/usr/lib/openldap",
    "/usr/local/libexec/openldap",
)
_SYSTEM_SCHEMA_DIRS = ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
_SYSTEM_SCHEMAS = ("core.ldif", "cosine.ldif", "inetorgperson.ldif")
_OWN_SCHEMAS = ("eduperson.ldif", "noredu.ldif")


class SlapdError(RuntimeError):
    """slapd or one of its tools failed; the message says which and why."""


class SlapdNotFoundError(SlapdError):
    """slapd or ldap-utils are not installed."""


@dataclass(frozen=True, slots=True)
class SlapdTools:
    """Where the OpenLDAP programs, modules and system schemas are on this machine."""

    slapd: Path
    slapadd: Path
    ldapadd: Path
    module_dir: Path | None
    schema_dir: Path


@dataclass(frozen=True, slots=True)
class SlapdStatus:
    """Whether the server of a home is running, and where."""

    home: Path
    running: bool
    pid: int | None
    uri: str | None
    ldaps_uri: str | None


def find_tools() -> SlapdTools:
    """Locate slapd, slapadd, ldapadd, the mdb module and the system schemas."""
    found: dict[str, Path] = {}
    for name in ("slapd", "slapadd", "ldapadd"):
        path = shutil.which(name) or next(
            (f"{d}/{name}" for d in _SEARCH_PATH if os.access(f"{d}/{name}", os.X_OK)), None
        )
        if path is None:
            raise SlapdNotFoundError(
                f"{name} not found: install Debian's slapd and ldap-utils packages"
            )
        found[name] = Path(path)
    schema_dir = next((Path(d) for d in _SYSTEM_SCHEMA_DIRS if Path(d, "core.ldif").exists()), None)
    if schema_dir is None:
        raise SlapdNotFoundError("OpenLDAP's core.ldif schema not found (package slapd)")
    module_dir = next((Path(d) for d in _MODULE_DIRS if any(Path(d).glob("back_mdb*"))), None)
    return SlapdTools(found["slapd"], found["slapadd"], found["ldapadd"], module_dir, schema_dir)


class SlapdServer:
    """A slapd of its own under `home`, listening on 127.0.0.1 only.

    `port=None` reuses the port recorded in `home` or picks a free one. `tls=True` also
    creates a self-signed certificate (openssl) and listens for LDAPS on a second port;
    StartTLS then works on the plain port too. TLS is decided when `home` is first set up.
    """

    def __init__(
        self,
        home: Path,
        port: int | None = None,
        suffix: str = DEFAULT_SUFFIX,
        *,
        tls: bool = False,
        tls_port: int | None = None,
    ) -> None:
        self.home = Path(home).resolve()
        self.suffix = suffix
        recorded = self._read_state()
        if recorded.get("suffix", suffix) != suffix:
            raise SlapdError(f"{self.home} holds suffix {recorded['suffix']}, not {suffix}")
        self.tls = bool(recorded.get("tls", tls))
        if tls and not self.tls:
            raise SlapdError(f"{self.home} was set up without TLS; use a new home for tls=True")
        self._fixed_ports = port is not None
        self.port: int = port or _int(recorded.get("port")) or _free_port()
        self.tls_port: int | None = None
        if self.tls:
            self.tls_port = tls_port or _int(recorded.get("tls_port")) or _free_port()

    # ----------------------------------------------------------------- where and who

    @property
    def uri(self) -> str:
        """The plain LDAP URL, e.g. `ldap://127.0.0.1:38911`."""
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str | None:
        """The LDAPS URL when the home was set up with TLS."""
        return f"ldaps://127.0.0.1:{self.tls_port}" if self.tls_port else None

    @property
    def ca_certificate(self) -> Path | None:
        """The self-signed certificate to trust for LDAPS/StartTLS, when TLS is on."""
        return self.home / "tls" / "cert.pem" if self.tls else None

    @property
    def admin_dn(self) -> str:
        """The root DN: may do anything, no size limit."""
        return f"cn=admin,{self.suffix}"

    @property
    def admin_password(self) -> str:
        """The admin password, generated for this home (kept in `admin.secret`, 0600)."""
        return self._secret("admin.secret")

    @property
    def reader_dn(self) -> str:
        """The read-only service account the hub should use."""
        return f"cn=hub-reader,{self.suffix}"

    @property
    def reader_password(self) -> str:
        """The service account's password (kept in `reader.secret`, 0600)."""
        return self._secret("reader.secret")

    @property
    def initialised(self) -> bool:
        """Whether the config and the database with its base entries exist in `home`."""
        return (self.home / "initialised").exists()

    # ----------------------------------------------------------------- life cycle

    def start(self, timeout: float = 30) -> str:
        """Start slapd (setting the home up first if needed) and return its URL."""
        state = self.status()
        if state.running:
            return self.uri
        tools = find_tools()
        self._initialise(tools)
        self._claim_ports()
        self._write_state()
        urls = self.uri + "/" + (f" {self.ldaps_uri}/" if self.ldaps_uri else "")
        command = [str(tools.slapd), "-h", urls, "-F", str(self.home / "slapd.d")]
        self._pid_file.unlink(missing_ok=True)
        started = time.monotonic()
        with (self.home / "slapd.log").open("wb") as output:
            result = subprocess.run(  # slapd forks and its parent exits once it is up
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            # A detached slapd reports to syslog only; its debug mode shows the reason.
            hint = " ".join(command[:1] + ["-d", "256"] + command[1:])
            raise SlapdError(
                f"slapd did not start (exit {result.returncode}) {self._log_tail()}; "
                f"to see why, run: {hint}"
            )
        deadline = started + timeout
        while not (self.status().running and _accepts(self.port)):
            if time.monotonic() > deadline:
                raise SlapdError(
                    f"slapd not answering on {self.uri} after {timeout}s: {self._log_tail()}"
                )
            time.sleep(0.05)
        log.info(
            "slapd_started",
            uri=self.uri,
            ldaps_uri=self.ldaps_uri,
            home=str(self.home),
            pid=self.status().pid,
            seconds=round(time.monotonic() - started, 3),
        )
        return self.uri

    def stop(self, timeout: float = 15) -> None:
        """Stop the slapd of this home (SIGTERM, then SIGKILL after `timeout`); no-op if down."""
        state = self.status()
        if not state.running or state.pid is None:
            self._pid_file.unlink(missing_ok=True)
            return
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process_alive(state.pid):
            if time.monotonic() > deadline:
                os.kill(state.pid, signal.SIGKILL)
                log.warning("slapd_killed", pid=state.pid, home=str(self.home))
                break
            time.sleep(0.05)
        self._pid_file.unlink(missing_ok=True)
        log.info("slapd_stopped", pid=state.pid, home=str(self.home))

    def status(self) -> SlapdStatus:
        """Whether this home's slapd runs: its pid file names a live slapd using this home."""
        pid: int | None = None
        with contextlib.suppress(OSError, ValueError):
            pid = int(self._pid_file.read_text().strip())
        running = pid is not None and process_alive(pid) and self._is_ours(pid)
        return SlapdStatus(
            self.home,
            running,
            pid if running else None,
            self.uri if running else None,
            self.ldaps_uri if running else None,
        )

    # ----------------------------------------------------------------- data

    def load_ldif(self, path: Path) -> None:
        """Add the entries of an LDIF file: `slapadd -q` if stopped, `ldapadd` if running.

        The file must not contain the suffix entry (the home already has it); write it with
        `write_ldif(..., include_suffix=False)` or use `load_owners`.
        """
        path = Path(path).resolve()
        started = time.monotonic()
        tools = find_tools()
        if self.status().running:
            mode = "ldapadd"
            _run(
                [
                    str(tools.ldapadd),
                    "-x",
                    "-H",
                    self.uri,
                    "-D",
                    self.admin_dn,
                    "-y",
                    str(self.home / "admin.secret"),
                    "-f",
                    str(path),
                ],
                "ldapadd",
            )
        else:
            mode = "slapadd"
            self._initialise(tools)
            self._write_state()
            _run(
                [
                    str(tools.slapadd),
                    "-q",
                    "-F",
                    str(self.home / "slapd.d"),
                    "-b",
                    self.suffix,
                    "-l",
                    str(path),
                ],
                "slapadd",
            )
        log.info(
            "ldif_loaded",
            mode=mode,
            home=str(self.home),
            seconds=round(time.monotonic() - started, 3),
        )

    def load_owners(
        self,
        owners: Iterable[SchoolOwner],
        *,
        include_children: bool = False,
        flat: Iterable[str] = (),
    ) -> LdifStats:
        """Write the tenants to a temporary LDIF in `home` and load it (see `load_ldif`).

        Tenants named in `flat` get the flat layout (`hub.dev.sandbox.ldif.Tree`).
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.home, prefix="load-") as folder:
            path = Path(folder) / "tenants.ldif"
            stats = write_ldif(
                path,
                owners,
                suffix=self.suffix,
                include_suffix=False,
                include_children=include_children,
                flat=flat,
            )
            self.load_ldif(path)
        return stats

    def connect(self, user: Literal["admin", "reader"] = "admin") -> ldap3.Connection:
        """An ldap3 connection bound as the admin or the service account; unbind it after."""
        dn, password = (
            (self.admin_dn, self.admin_password)
            if user == "admin"
            else (self.reader_dn, self.reader_password)
        )
        return ldap3.Connection(
            ldap3.Server(self.uri, get_info=ldap3.SCHEMA),
            user=dn,
            password=password,
            auto_bind=True,
            raise_exceptions=False,
        )

    @contextlib.contextmanager
    def connection(self, user: Literal["admin", "reader"] = "admin") -> Iterator[ldap3.Connection]:
        """`connect()` as a context manager that unbinds on exit."""
        conn = self.connect(user)
        try:
            yield conn
        finally:
            conn.unbind()

    def tls_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts this server's self-signed certificate."""
        if self.ca_certificate is None:
            raise SlapdError("this home was set up without TLS")
        return ssl.create_default_context(cafile=str(self.ca_certificate))

    # ----------------------------------------------------------------- set-up

    def _initialise(self, tools: SlapdTools) -> None:
        if self.initialised:
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        for name in ("admin.secret", "reader.secret"):
            if not (self.home / name).exists():
                _write_private(self.home / name, secrets.token_urlsafe(24))
        if self.tls:
            self._make_certificate()
        for leftover in ("slapd.d", "data"):  # from a set-up that failed half-way
            shutil.rmtree(self.home / leftover, ignore_errors=True)
        (self.home / "data").mkdir(mode=0o700)
        config = self.home / "config.ldif"
        _write_private(config, self._config_ldif(tools))
        (self.home / "slapd.d").mkdir(mode=0o700)
        _run(
            [str(tools.slapadd), "-n0", "-F", str(self.home / "slapd.d"), "-l", str(config)],
            "slapadd -n0 (config)",
        )
        base = self.home / "base.ldif"
        reader = (
            self.reader_dn,
            [
                ("objectClass", "organizationalRole"),
                ("objectClass", "simpleSecurityObject"),
                ("cn", "hub-reader"),
                ("description", "Read-only service account for the Skolehub LDAP connector"),
                ("userPassword", _ssha(self.reader_password)),
            ],
        )
        _write_private(base, format_entry(*suffix_entry(self.suffix)) + format_entry(*reader))
        _run(
            [
                str(tools.slapadd),
                "-q",
                "-F",
                str(self.home / "slapd.d"),
                "-b",
                self.suffix,
                "-l",
                str(base),
            ],
            "slapadd (base entries)",
        )
        (self.home / "initialised").write_text(f"{self.suffix}\n")
        log.info("slapd_configured", home=str(self.home), suffix=self.suffix, tls=self.tls)

    def _config_ldif(self, tools: SlapdTools) -> str:
        home = self.home
        schemas = [tools.schema_dir / name for name in _SYSTEM_SCHEMAS]
        schemas += [SCHEMA_DIR / name for name in _OWN_SCHEMAS]
        tls = ""
        if self.tls:
            tls = (
                f"olcTLSCertificateFile: {home / 'tls' / 'cert.pem'}\n"
                f"olcTLSCertificateKeyFile: {home / 'tls' / 'key.pem'}\n"
            )
        modules = ""
        if tools.module_dir is not None:
            modules = (
                "dn: cn=module{0},cn=config\nobjectClass: olcModuleList\n"
                f"cn: module{{0}}\nolcModulePath: {tools.module_dir}\n"
                "olcModuleLoad: back_mdb\n\n"
            )
        includes = "".join(f"include: file://{path}\n\n" for path in schemas)
        reader = self.reader_dn
        return f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {home / "slapd.pid"}
olcArgsFile: {home / "slapd.args"}
olcLogLevel: none
olcToolThreads: 2
{tls}
{modules}dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{includes}dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcAccess: {{0}}to dn.base="" by * read
olcAccess: {{1}}to dn.base="cn=Subschema" by * read

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {self.suffix}
olcRootDN: {self.admin_dn}
olcRootPW: {_ssha(self.admin_password)}
olcDbDirectory: {home / "data"}
olcDbMaxSize: 8589934592
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: eduPersonPrincipalName eq
olcSizeLimit: size.soft={SOFT_SIZE_LIMIT} size.hard=unlimited
olcAccess: {{0}}to attrs=userPassword by self =xw by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact="{reader}" read by self read by * none

"""

    def _make_certificate(self) -> None:
        folder = self.home / "tls"
        folder.mkdir(mode=0o700, exist_ok=True)
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SlapdNotFoundError("openssl not found: needed for tls=True")
        _run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(folder / "key.pem"),
                "-out",
                str(folder / "cert.pem"),
            ],
            "openssl req",
        )
        (folder / "key.pem").chmod(0o600)

    # ----------------------------------------------------------------- state

    def _claim_ports(self) -> None:
        """Fail on a busy port that was asked for; move off a busy remembered one."""
        for attribute in ("port", "tls_port"):
            port = getattr(self, attribute)
            if port is None or not _accepts(port):
                continue
            if self._fixed_ports:
                raise SlapdError(f"port {port} on 127.0.0.1 is already in use")
            setattr(self, attribute, _free_port())

    @property
    def _pid_file(self) -> Path:
        return self.home / "slapd.pid"

    def _read_state(self) -> dict[str, object]:
        try:
            state = json.loads((self.home / "server.json").read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _write_state(self) -> None:
        state = {
            "suffix": self.suffix,
            "port": self.port,
            "tls": self.tls,
            "tls_port": self.tls_port,
        }
        (self.home / "server.json").write_text(json.dumps(state, indent=2) + "\n")

    def _secret(self, name: str) -> str:
        path = self.home / name
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            _write_private(path, secrets.token_urlsafe(24))
        return path.read_text()

    def _is_ours(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return (
            bool(cmdline)
            and Path(cmdline[0].decode()).name == "slapd"
            and str(self.home / "slapd.d").encode() in cmdline
        )

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.home / "slapd.log").read_text(errors="replace")[-2000:].strip()
        return ""


def _run(command: list[str], what: str) -> None:
    env = {**os.environ, "LDAPNOINIT": "1"}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-3000:]
        raise SlapdError(f"{what} failed (exit {result.returncode}): {output}")


def _ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt, usedforsecurity=False).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)
    path.chmod(0o600)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
