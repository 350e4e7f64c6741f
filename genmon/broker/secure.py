"""A local Apache Kafka 4 that requires TLS and SASL, as managed clusters do: ``genmon kafka --secure``
and the suite's third broker kind.

At start it makes a CA of its own and a certificate for 127.0.0.1 signed by it (the ``cryptography``
package), SCRAM users (created when the storage is formatted) and, optionally, enforces ACLs
(``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``). Its listeners:

- ``SASL_SSL`` on :attr:`port` — SCRAM-SHA-512 and PLAIN (SCRAM-SHA-256 stays off: a mechanism the
  broker does not enable is one of the errors genmon must explain);
- ``SSL`` with a required client certificate (mutual TLS) on :attr:`mtls_port`;
- an internal plaintext listener for the broker itself and for :meth:`grant` (its principal,
  ``ANONYMOUS``, is a super user: it is on loopback and exists only while the broker runs).

Everything lives in the broker's scratch directory and is gone at stop.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import secrets
from collections.abc import Iterable
from pathlib import Path

from genmon.broker.address import BrokerAddress, BrokerError, unreachable_because
from genmon.broker.kafka import KafkaBroker, _answers
from genmon.broker.process import free_port
from genmon.broker.security import Security

SCRAM = "SCRAM-SHA-512"
USERS = ("admin", "alice", "reader", "writer")
"""``admin`` is a super user; the others have only the ACLs a test grants (with ``acls=True``)."""
CLIENT_CN = "genmon-client"

SECURE_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=SASL_SSL://127.0.0.1:{port},MTLS://127.0.0.1:{mtls},INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=SASL_SSL://127.0.0.1:{port},MTLS://127.0.0.1:{mtls},INTERNAL://127.0.0.1:{internal}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram_module} required;
listener.name.sasl_ssl.plain.sasl.jaas.config={plain_module} required {plain_users};
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={ca}
listener.name.mtls.ssl.client.auth=required
log.dirs={data}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
"""
ACL_PROPERTIES = """\
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS
"""


class SecureKafkaBroker(KafkaBroker):
    """Apache Kafka requiring SASL_SSL (and, on a second port, mutual TLS); ``acls``: enforced."""

    name = "local secured Kafka"
    slug = "kafka-secure"

    def __init__(self, *args: object, acls: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.acls = acls
        self.passwords = {user: secrets.token_urlsafe(12) for user in USERS}
        self.mtls_port = 0
        self.internal_port = 0
        self.folder: Path | None = None
        """The scratch directory: the CA, the client's certificate and key, ``client.properties``."""

    # -- what the tests and users connect with -----------------------------------------------------
    @property
    def ca(self) -> str:
        assert self.folder is not None, f"{self.name} not started"
        return str(self.folder / "ca.pem")

    def properties(self, user: str = "alice", mechanism: str = SCRAM) -> dict[str, str]:
        """The Kafka client properties of ``user`` on the SASL_SSL listener (what ``-X`` takes)."""
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": mechanism,
            "sasl.username": user,
            "sasl.password": self.passwords[user],
            "ssl.ca.location": self.ca,
        }

    def x_args(self, user: str = "alice", mechanism: str = SCRAM) -> list[str]:
        return [
            arg for key, value in self.properties(user, mechanism).items() for arg in ("-X", f"{key}={value}")
        ]

    def security(self, user: str = "alice", mechanism: str = SCRAM) -> Security:
        from genmon.broker.security import from_properties

        return from_properties(self.properties(user, mechanism), f"the local secured Kafka's {user}")

    def mtls_properties(self) -> dict[str, str]:
        assert self.folder is not None
        return {
            "security.protocol": "SSL",
            "ssl.ca.location": self.ca,
            "ssl.certificate.location": str(self.folder / "client.pem"),
            "ssl.key.location": str(self.folder / "client-key.pem"),
        }

    @property
    def mtls_url(self) -> str:
        return f"kafka://127.0.0.1:{self.mtls_port}"

    @property
    def internal(self) -> BrokerAddress:
        """The plaintext listener (a super user: for granting ACLs, never for what is tested)."""
        return BrokerAddress("127.0.0.1", self.internal_port)

    def write_client_properties(self, user: str = "alice") -> str:
        """``client.properties`` for ``user`` in the scratch directory (Kafka's ``--command-config``
        form, genmon's ``--kafka-config``)."""
        assert self.folder is not None
        path = self.folder / f"{user}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.properties(user).items()))
        path.chmod(0o600)
        return str(path)

    # -- life --------------------------------------------------------------------------------------
    def prepare(self, workdir: Path, port: int) -> None:
        self.folder = workdir
        self.mtls_port, self.internal_port = free_port(), free_port()
        make_certificates(workdir)
        plain_users = " ".join(f'user_{u}="{p}"' for u, p in self.passwords.items())
        text = SECURE_PROPERTIES.format(
            port=port,
            mtls=self.mtls_port,
            internal=self.internal_port,
            controller=free_port(),
            data=workdir / "data",
            keystore=workdir / "server.pem",
            ca=workdir / "ca.pem",
            plain_users=plain_users,
            scram_module="org.apache.kafka.common.security.scram.ScramLoginModule",
            plain_module="org.apache.kafka.common.security.plain.PlainLoginModule",
        )
        if self.acls:
            text += ACL_PROPERTIES
        (workdir / "server.properties").write_text(text)
        (workdir / "server.properties").chmod(0o600)
        scram = [
            arg
            for user, password in self.passwords.items()
            for arg in ("--add-scram", f"{SCRAM}=[name={user},password={password}]")
        ]
        self.format(workdir / "server.properties", *scram)
        self.address = BrokerAddress("127.0.0.1", port, security=self.security())

    def start(self) -> SecureKafkaBroker:
        super().start()
        # BrokerProcess.start sets a plaintext address before prepare(); the secured one wins
        assert self.address is not None
        if self.address.security is None:
            self.address = self.address.secured(self.security())
        return self

    def ready(self) -> bool:
        """Ready once the internal listener answers metadata (the secured ones share its state)."""
        if unreachable_because(self.internal, timeout=0.2) is not None:
            return False
        return asyncio.run(_answers(self.internal))

    # -- ACLs ----------------------------------------------------------------------------------------
    def grant(
        self, principal: str, resource: str, name: str, operations: Iterable[str], prefixed: bool = False
    ) -> None:
        """Allow ``principal`` (``User:alice``) ``operations`` (``READ``, ``WRITE``, ``DESCRIBE``,
        ``CREATE``…) on ``resource`` (``topic``, ``group``, ``cluster``) ``name`` — what
        ``kafka-acls --add --allow-principal … --operation … --topic …`` does."""
        asyncio.run(create_acls(self.internal, principal, resource, name, operations, prefixed))


RESOURCE_TYPES = {"topic": 2, "group": 3, "cluster": 4, "transactional_id": 5}
OPERATIONS = {
    "ALL": 2,
    "READ": 3,
    "WRITE": 4,
    "CREATE": 5,
    "DELETE": 6,
    "ALTER": 7,
    "DESCRIBE": 8,
    "CLUSTER_ACTION": 9,
    "DESCRIBE_CONFIGS": 10,
    "ALTER_CONFIGS": 11,
    "IDEMPOTENT_WRITE": 12,
}
LITERAL, PREFIXED, ALLOW = 3, 4, 3


async def create_acls(
    address: BrokerAddress,
    principal: str,
    resource: str,
    name: str,
    operations: Iterable[str],
    prefixed: bool = False,
) -> None:
    """CreateAcls (a request per operation, with a resource pattern type) over ``address``; an
    error is a :class:`BrokerError`."""
    from aiokafka.protocol.admin import CreateAclsRequest

    from genmon.broker import clients

    client = clients.client(address, request_timeout_ms=10_000)
    await client.bootstrap()
    try:
        node = next(iter(client.cluster.brokers())).nodeId
        for op in operations:
            request = CreateAclsRequest(
                RESOURCE_TYPES[resource],
                name,
                PREFIXED if prefixed else LITERAL,
                principal,
                "*",
                OPERATIONS[op],
                ALLOW,
            )
            response = await client.send(node, request)
            for error, message in response.creation_responses:
                if error:
                    raise BrokerError(f"CreateAcls failed: error {error} {message or ''}".strip())
    finally:
        await client.close()


def make_certificates(folder: Path, days: int = 2) -> None:
    """``ca.pem`` (a CA of its own), ``server.pem`` (the broker's PKCS#8 key and certificate chain, for
    127.0.0.1 and localhost), ``client.pem`` and ``client-key.pem`` (a client certificate for mutual
    TLS), all signed by the CA and valid for ``days``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "genmon local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def issue(
        common_name: str, usage: x509.ObjectIdentifier, names: list[x509.GeneralName]
    ) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return key_pem, cert.public_bytes(serialization.Encoding.PEM)

    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    server_key, server_cert = issue(
        "127.0.0.1",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client_key, client_cert = issue(CLIENT_CN, ExtendedKeyUsageOID.CLIENT_AUTH, [])
    files = {
        "ca.pem": ca_pem,
        "server.pem": server_key + server_cert + ca_pem,
        "client.pem": client_cert + ca_pem,
        "client-key.pem": client_key,
    }
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        path.chmod(0o600)
