"""How genmon's own Kafka clients authenticate: one set of security settings, read from what users
already type — Kafka client properties (``-X KEY=VALUE``, a ``.properties`` file as Kafka's CLI takes
with ``--command-config``) or, inside a worker, the app's own ``broker_credentials``/``ssl_context``
as Faust's aiokafka driver translates them.

:class:`Security` is the only thing that knows a secret. It never prints one: its ``repr``, its
:meth:`Security.describe` and every error this module raises name properties and files, never a
password; :func:`redact` takes a secret out of any text that reaches a log or an error line.
:mod:`genmon.broker.clients` turns a :class:`Security` into aiokafka's keyword arguments and is the
one place a Kafka client is made (docs/ARCHITECTURE.md, "One place makes every Kafka client").
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from genmon.broker.address import BrokerError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
"""What a user can give with properties. OAUTHBEARER and GSSAPI need code (a token provider, a
Kerberos ticket): genmon takes them from the app's own credentials only."""

USED = {
    "security.protocol": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    "sasl.mechanism": "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
    "sasl.username": "the SASL user",
    "sasl.password": "the SASL user's password",
    "sasl.jaas.config": "Java's form of the user and password (PlainLoginModule or ScramLoginModule)",
    "ssl.ca.location": "a PEM file of the CA certificates that signed the broker's (default: the system's)",
    "ssl.truststore.location": "the same, where ssl.truststore.type=PEM",
    "ssl.truststore.type": "PEM (genmon reads no JKS or PKCS12 store)",
    "ssl.certificate.location": "a PEM file of the client's certificate (mutual TLS)",
    "ssl.key.location": "a PEM file of the client's private key (mutual TLS)",
    "ssl.key.password": "the private key's password",
    "ssl.endpoint.identification.algorithm": "https (default: the broker's name is checked) or empty",
    "enable.ssl.certificate.verification": "true (default) or false: trust any certificate",
    "bootstrap.servers": "the broker, where no URL is given (a properties file's own)",
}
"""Every property genmon reads, with what it takes (docs/BROKERS.md, "Secured clusters")."""

KNOWN_UNUSED = frozenset(
    {
        "client.dns.lookup",
        "client.id",
        "session.timeout.ms",
        "request.timeout.ms",
        "default.api.timeout.ms",
        "acks",
        "retries",
        "retry.backoff.ms",
        "reconnect.backoff.ms",
        "linger.ms",
        "basic.auth.credentials.source",
        "basic.auth.user.info",
        "schema.registry.url",
        "schema.registry.basic.auth.user.info",
    }
)
"""Java client settings that a cluster's downloaded ``client.properties`` carries (Confluent Cloud's
does) and that say nothing about how to connect: accepted, not used. Any other key is an error."""

SECRET_KEYS = frozenset(
    {
        "sasl.password",
        "ssl.key.password",
        "sasl.jaas.config",
        "basic.auth.user.info",
        "schema.registry.basic.auth.user.info",
    }
)

CONFIG_ENV = "GENMON_KAFKA_CONFIG"
"""A properties file for genmon's clients in a ``faust worker`` (``GENMON_BROKER`` set)."""
PROPERTIES_ENV = "GENMON_KAFKA_PROPERTIES"
"""``KEY=VALUE`` lines, read after :data:`CONFIG_ENV`'s file (``genmon worker -X`` sets it)."""


class SecurityError(BrokerError):
    """Client properties or credentials that cannot be used; the message is one line, no secret."""


@dataclass(frozen=True)
class Security:
    """How to connect: the protocol, a SASL user, the TLS trust and (mutual TLS) the client's
    certificate. ``context`` is a live ``ssl.SSLContext`` where one was given (the app's own),
    ``token_provider`` an OAUTHBEARER token provider (the app's own); neither crosses a process."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_location: str | None = None
    certificate_location: str | None = None
    key_location: str | None = None
    key_password: str | None = field(default=None, repr=False)
    check_hostname: bool = True
    verify: bool = True
    context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    token_provider: Any = field(default=None, repr=False, compare=False)
    origin: str = "default"
    """Where these settings came from, for error lines: ``-X``, a file's name, ``the app's
    broker_credentials``."""
    bootstrap: str | None = None
    """``bootstrap.servers`` of a properties file: the broker where no URL is given."""

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def plain(self) -> bool:
        """Nothing to set up: the default plaintext connection."""
        return self.protocol == "PLAINTEXT"

    def describe(self) -> str:
        """For people (the header, ``--json``, logs): the protocol and the user, never a secret."""
        if self.protocol == "PLAINTEXT":
            return "PLAINTEXT"
        parts = [self.protocol]
        if self.sasl:
            parts.append(f"{self.mechanism} as {self.username}" if self.username else str(self.mechanism))
        if self.certificate_location or (self.context is not None and self.protocol == "SSL"):
            parts.append("client certificate" if self.certificate_location else "the app's TLS context")
        return " · ".join(parts)

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.key_password) if s]

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context the clients use: the app's own, or one made from the properties (once:
        the health check opens a connection every second)."""
        if not self.tls:
            return None
        if self.context is not None:
            return self.context
        return self._made_context

    @functools.cached_property
    def _made_context(self) -> ssl.SSLContext:
        return _context(self)

    def aiokafka(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for these settings (every client takes the same)."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.sasl:
            kwargs["sasl_mechanism"] = self.mechanism
            if self.mechanism == "OAUTHBEARER":
                kwargs["sasl_oauth_token_provider"] = self.token_provider
            else:
                kwargs["sasl_plain_username"] = self.username
                kwargs["sasl_plain_password"] = self.password
        return kwargs

    def properties(self) -> dict[str, str]:
        """The same settings as Kafka client properties (what a file or ``-X`` would say), for a
        process that cannot be handed the live objects: the CA file stays a file."""
        props = {"security.protocol": self.protocol}
        if self.sasl and self.mechanism:
            props["sasl.mechanism"] = self.mechanism
        for key, value in (
            ("sasl.username", self.username),
            ("sasl.password", self.password),
            ("ssl.ca.location", self.ca_location),
            ("ssl.certificate.location", self.certificate_location),
            ("ssl.key.location", self.key_location),
            ("ssl.key.password", self.key_password),
        ):
            if value:
                props[key] = value
        if not self.check_hostname:
            props["ssl.endpoint.identification.algorithm"] = ""
        if not self.verify:
            props["enable.ssl.certificate.verification"] = "false"
        return props


PLAINTEXT = Security()


def redact(text: str, security: Security | None) -> str:
    """``text`` with every secret of ``security`` replaced by ``***`` (an error line, a log)."""
    if security is None:
        return text
    for secret in security.secrets():
        text = text.replace(secret, "***")
    return text


# -- reading properties --------------------------------------------------------------------------------


def parse_pairs(pairs: Iterable[str], origin: str = "-X") -> dict[str, str]:
    """``KEY=VALUE`` strings (``-X``) as a dict; a pair without ``=`` is an error naming the key."""
    props: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            shown = key if key and key not in SECRET_KEYS else "…"
            raise SecurityError(f"{origin}: expected KEY=VALUE (a Kafka client property), got {shown!r}")
        props[key] = value.strip()
    return props


def read_properties(path: str) -> dict[str, str]:
    """A Java ``.properties`` file (``key=value`` or ``key: value``, ``#``/``!`` comments, ``\\``
    continuations), as Kafka's CLI reads ``--command-config``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecurityError(f"--kafka-config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SecurityError(f"--kafka-config {path}: not a text file") from None
    props: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.strip() if not logical else raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            logical += line[:-1]
            continue
        logical += line
        match = re.match(r"^([^=:\s]+)\s*[=:\s]\s*(.*)$", logical)
        if match is None:
            key = logical.strip()
            if not key:
                logical = ""
                continue
            props[key] = ""
        else:
            props[match.group(1)] = match.group(2).strip()
        logical = ""
    return props


_JAAS = re.compile(r"""(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s;]+))""")


def _jaas(text: str, origin: str) -> tuple[str | None, str | None]:
    """The username and password of a ``sasl.jaas.config`` (Plain or Scram login module)."""
    if "LoginModule" not in text:
        raise SecurityError(f"{origin}: sasl.jaas.config names no LoginModule")
    module = text.split()[0].rsplit(".", 1)[-1]
    if module not in ("PlainLoginModule", "ScramLoginModule"):
        raise SecurityError(
            f"{origin}: sasl.jaas.config uses {module}; genmon reads PlainLoginModule and ScramLoginModule"
        )
    found = {m.group(1): next(g for g in m.groups()[1:] if g is not None) for m in _JAAS.finditer(text)}
    return found.get("username"), found.get("password")


def _true(value: str, key: str, origin: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise SecurityError(f"{origin}: {key} takes true or false, not {value!r}")


def from_properties(props: Mapping[str, str], origin: str = "-X") -> Security:
    """Kafka client properties as :class:`Security`, checked: an unknown key, a protocol or
    mechanism genmon cannot speak, a file that does not exist, SASL settings without a SASL
    protocol — each one line naming the property, never its secret."""
    unknown = sorted(k for k in props if k not in USED and k not in KNOWN_UNUSED)
    if unknown:
        raise SecurityError(
            f"{origin}: unknown Kafka client property {unknown[0]!r} (genmon reads {', '.join(sorted(USED))})"
        )
    protocol = props.get("security.protocol", "PLAINTEXT").strip().upper()
    if protocol not in PROTOCOLS:
        raise SecurityError(f"{origin}: security.protocol takes {', '.join(PROTOCOLS)}, not {protocol!r}")
    username, password = props.get("sasl.username"), props.get("sasl.password")
    if "sasl.jaas.config" in props:
        jaas_user, jaas_password = _jaas(props["sasl.jaas.config"], origin)
        username, password = username or jaas_user, password or jaas_password
    mechanism = props.get("sasl.mechanism")
    sasl_given = mechanism or username or password
    if protocol.startswith("SASL_"):
        mechanism = (mechanism or "PLAIN").strip().upper()  # Kafka's default mechanism
        if mechanism not in MECHANISMS:
            raise SecurityError(
                f"{origin}: sasl.mechanism {mechanism} is not one genmon can take from properties "
                f"({', '.join(MECHANISMS)}; OAUTHBEARER and GSSAPI come from the app's own credentials)"
            )
        if not username or password is None:
            raise SecurityError(
                f"{origin}: {protocol} needs sasl.username and sasl.password (or sasl.jaas.config)"
            )
    elif sasl_given:
        raise SecurityError(
            f"{origin}: SASL settings given with security.protocol={protocol}: "
            "set security.protocol=SASL_SSL (or SASL_PLAINTEXT)"
        )
    store_type = props.get("ssl.truststore.type", "PEM").strip().upper()
    if store_type != "PEM":
        raise SecurityError(
            f"{origin}: ssl.truststore.type={store_type}: genmon reads PEM files; export the CA with "
            "`keytool -exportcert -rfc` and give it as ssl.ca.location"
        )
    ca = props.get("ssl.ca.location") or props.get("ssl.truststore.location") or None
    cert = props.get("ssl.certificate.location") or None
    key = props.get("ssl.key.location") or None
    for name, path in (
        ("ssl.ca.location", ca),
        ("ssl.certificate.location", cert),
        ("ssl.key.location", key),
    ):
        if path is not None and not os.path.isfile(os.path.expanduser(path)):
            raise SecurityError(f"{origin}: {name} {path}: no such file")
    if bool(cert) != bool(key):
        raise SecurityError(f"{origin}: mutual TLS needs both ssl.certificate.location and ssl.key.location")
    tls_given = ca or cert
    if tls_given and protocol not in ("SSL", "SASL_SSL"):
        raise SecurityError(
            f"{origin}: TLS settings given with security.protocol={protocol}: set SSL or SASL_SSL"
        )
    algorithm = props.get("ssl.endpoint.identification.algorithm", "https").strip().lower()
    if algorithm not in ("https", "", "none"):
        raise SecurityError(f"{origin}: ssl.endpoint.identification.algorithm takes https or nothing")
    verify = _true(
        props.get("enable.ssl.certificate.verification", "true"),
        "enable.ssl.certificate.verification",
        origin,
    )
    security = Security(
        protocol=protocol,
        mechanism=mechanism if protocol.startswith("SASL_") else None,
        username=username,
        password=password,
        ca_location=os.path.expanduser(ca) if ca else None,
        certificate_location=os.path.expanduser(cert) if cert else None,
        key_location=os.path.expanduser(key) if key else None,
        key_password=props.get("ssl.key.password") or None,
        check_hostname=algorithm == "https" and verify,
        verify=verify,
        origin=origin,
        bootstrap=props.get("bootstrap.servers") or None,
    )
    if security.tls:
        security.ssl_context()  # a bad PEM or a wrong key password: one line now, not in every client
    return security


def from_options(pairs: Iterable[str] = (), config: str | None = None) -> Security:
    """``--kafka-config FILE`` then ``-X`` pairs over it (as kcat and Kafka's CLI combine them);
    no option at all is plaintext."""
    pairs = list(pairs)
    if not pairs and config is None:
        return PLAINTEXT
    props = read_properties(config) if config is not None else {}
    props.update(parse_pairs(pairs))
    origin = " and ".join(
        part for part in ((f"--kafka-config {config}" if config else ""), ("-X" if pairs else "")) if part
    )
    return from_properties(props, origin)


def from_environment(environ: Mapping[str, str] | None = None) -> Security | None:
    """A ``faust worker``'s settings for genmon (:data:`CONFIG_ENV`, :data:`PROPERTIES_ENV`), or None
    when neither is set (the app's own credentials then)."""
    environ = os.environ if environ is None else environ
    path, lines = environ.get(CONFIG_ENV), environ.get(PROPERTIES_ENV)
    if not path and not lines:
        return None
    props = read_properties(path) if path else {}
    origin = CONFIG_ENV if path else PROPERTIES_ENV
    if lines:
        props.update(parse_pairs([line for line in lines.splitlines() if line.strip()], PROPERTIES_ENV))
    return from_properties(props, origin)


def write_properties(security: Security, path: str) -> str:
    """``security`` as a properties file only its owner can read (for genmon's own workers, and for
    the screen's process to use the app's credentials); returns ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for key, value in security.properties().items():
            f.write(f"{key}={_escape(value)}\n")
    return path


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


# -- the app's own credentials ---------------------------------------------------------------------------


def from_aiokafka(kwargs: Mapping[str, Any], origin: str = "the app's broker_credentials") -> Security:
    """What Faust's aiokafka driver hands its clients (``credentials_to_aiokafka_auth``), kept live:
    the app's ``ssl_context`` and token provider are used as they are in the app's process."""
    protocol = str(kwargs.get("security_protocol") or "PLAINTEXT").upper()
    if protocol not in PROTOCOLS:
        raise SecurityError(f"{origin}: security protocol {protocol} is not one aiokafka speaks")
    mechanism = kwargs.get("sasl_mechanism")
    context = kwargs.get("ssl_context")
    if protocol in ("SSL", "SASL_SSL") and context is None:
        context = ssl.create_default_context()
    return Security(
        protocol=protocol,
        mechanism=str(mechanism) if mechanism and protocol.startswith("SASL_") else None,
        username=kwargs.get("sasl_plain_username"),
        password=kwargs.get("sasl_plain_password"),
        context=context,
        token_provider=kwargs.get("sasl_oauth_token_provider"),
        check_hostname=bool(getattr(context, "check_hostname", True)),
        verify=getattr(context, "verify_mode", ssl.CERT_REQUIRED) != ssl.CERT_NONE,
        origin=origin,
    )


def portable(security: Security, folder: str) -> Security:
    """``security`` in a form another process can be handed as properties: the CA certificates of a
    live TLS context written as a PEM file into ``folder`` (a private scratch directory). A client
    certificate inside a live context cannot be read back out: the screen's process then connects
    without one, and says which properties give it (:mod:`genmon.broker.handshake`)."""
    if security.context is None:
        return security
    ca = security.ca_location
    certs = security.context.get_ca_certs(binary_form=True)
    if certs and ca is None:
        ca = os.path.join(folder, "app-ca.pem")
        fd = os.open(ca, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.writelines(ssl.DER_cert_to_PEM_cert(der) for der in certs)
    return replace(security, context=None, ca_location=ca)


def _context(security: Security) -> ssl.SSLContext:
    """A client TLS context from the properties; a file that does not load is one line."""
    try:
        context = ssl.create_default_context(cafile=security.ca_location)
    except (ssl.SSLError, OSError) as exc:
        raise SecurityError(
            f"{security.origin}: ssl.ca.location {security.ca_location} holds no usable PEM certificate "
            f"({_ssl_reason(exc)})"
        ) from None
    if security.certificate_location and security.key_location:
        try:
            context.load_cert_chain(
                security.certificate_location, security.key_location, password=security.key_password
            )
        except (ssl.SSLError, OSError) as exc:
            raise SecurityError(
                f"{security.origin}: the client certificate ({security.certificate_location}) and key "
                f"({security.key_location}) do not load: {_ssl_reason(exc)} (is ssl.key.password right?)"
            ) from None
    if not security.check_hostname:
        context.check_hostname = False
    if not security.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _ssl_reason(exc: BaseException) -> str:
    with contextlib.suppress(AttributeError):
        if getattr(exc, "reason", None):
            return str(exc.reason).replace("_", " ").lower()  # type: ignore[attr-defined]
    return getattr(exc, "strerror", None) or type(exc).__name__
