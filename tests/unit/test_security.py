"""genmon's security settings without a broker: Kafka client properties as users type them, the
app's own credentials as Faust's driver hands them over, secrets that never show, and the one place
every Kafka client is made (the secured broker's tests: tests/integration/test_secured.py)."""

from __future__ import annotations

import ast
import os
import ssl
import stat
from pathlib import Path

import faust
import pytest

from genmon.broker import clients
from genmon.broker.address import BrokerAddress
from genmon.broker.secure import make_certificates
from genmon.broker.security import (
    PLAINTEXT,
    SecurityError,
    from_aiokafka,
    from_environment,
    from_options,
    from_properties,
    portable,
    read_properties,
    redact,
    write_properties,
)
from genmon.host.credentials import app_security, faust_settings
from genmon.probe import touchpoints

GENMON = Path(__file__).resolve().parents[2] / "genmon"
CLIENT_MAKERS = {
    "AIOKafkaProducer",
    "AIOKafkaConsumer",
    "AIOKafkaAdminClient",
    "AIOKafkaClient",
    "create_conn",
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    make_certificates(folder)
    return folder


def test_every_kafka_client_is_made_in_one_place() -> None:
    """No module but genmon/broker/clients.py names aiokafka's client classes or its connection
    maker: a client made elsewhere would connect without the user's credentials."""
    offenders = []
    for path in GENMON.rglob("*.py"):
        if path.name == "clients.py" and path.parent.name == "broker":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.Name):
                names = [node.id]
            offenders += [
                f"{path.relative_to(GENMON)}:{node.lineno} {n}" for n in names if n in CLIENT_MAKERS
            ]
    assert offenders == []


async def test_the_clients_take_the_addresses_security(certs: Path) -> None:
    security = from_properties(
        {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "alice",
            "sasl.password": "s3cret",
            "ssl.ca.location": str(certs / "ca.pem"),
        }
    )
    address = BrokerAddress("127.0.0.1", 9093).secured(security)
    client = clients.client(address)
    assert client._security_protocol == "SASL_SSL"
    assert client._sasl_mechanism == "SCRAM-SHA-512"
    assert client._sasl_plain_username == "alice"
    assert isinstance(client._ssl_context, ssl.SSLContext)
    plain = clients.client(BrokerAddress("127.0.0.1", 9092))
    assert plain._security_protocol == "PLAINTEXT"


def test_a_properties_file_reads_as_kafkas_cli_reads_it(tmp_path: Path, certs: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text(
        "# Confluent Cloud's downloaded form\n"
        "bootstrap.servers=pkc-1.example.com:9092\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanisms=\n".replace("sasl.mechanisms=\n", "")
        + "sasl.mechanism: PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\\n"
        "    username='KEY' password=\"p=a;ss\";\n"
        "! another comment\n"
        "client.dns.lookup=use_all_dns_ips\n"
        "session.timeout.ms=45000\n"
        f"ssl.ca.location={certs / 'ca.pem'}\n"
    )
    security = from_options((), str(path))
    assert (security.protocol, security.mechanism, security.username, security.password) == (
        "SASL_SSL",
        "PLAIN",
        "KEY",
        "p=a;ss",
    )
    assert security.bootstrap == "pkc-1.example.com:9092"
    over = from_options(("sasl.username=other", "sasl.password=x"), str(path))
    assert (over.username, over.password) == ("other", "x"), "-X overrides the file"


@pytest.mark.parametrize(
    ("props", "said"),
    [
        ({"sasl.usrname": "alice"}, "unknown Kafka client property 'sasl.usrname'"),
        ({"security.protocol": "SASL_SSSL"}, "security.protocol takes"),
        (
            {"sasl.username": "a", "sasl.password": "b"},
            "SASL settings given with security.protocol=PLAINTEXT",
        ),
        (
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "GSSAPI",
                "sasl.username": "a",
                "sasl.password": "b",
            },
            "GSSAPI is not one genmon can take",
        ),
        ({"security.protocol": "SASL_SSL"}, "needs sasl.username and sasl.password"),
        (
            {"security.protocol": "SSL", "ssl.ca.location": "/nowhere/ca.pem"},
            "ssl.ca.location /nowhere/ca.pem: no such file",
        ),
        ({"security.protocol": "SSL", "ssl.truststore.type": "JKS"}, "genmon reads PEM files"),
        ({"security.protocol": "PLAINTEXT", "ssl.ca.location": __file__}, "TLS settings given with"),
        ({"security.protocol": "SSL", "enable.ssl.certificate.verification": "maybe"}, "takes true or false"),
    ],
)
def test_properties_genmon_cannot_use_are_one_line_without_their_secret(props: dict, said: str) -> None:
    props = {**props, "ssl.key.password": "hunter2"} if "ssl.key.password" not in props else props
    with pytest.raises(SecurityError) as caught:
        from_properties(props)
    assert said in str(caught.value)
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_pair_without_equals_names_no_secret() -> None:
    with pytest.raises(SecurityError) as caught:
        from_options(("sasl.password",))
    assert "expected KEY=VALUE" in str(caught.value)


def test_a_ca_file_that_is_not_pem_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(SecurityError, match="holds no usable PEM certificate"):
        from_properties({"security.protocol": "SSL", "ssl.ca.location": str(bogus)})


def test_secrets_never_show(certs: Path) -> None:
    security = from_properties(
        {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.username": "alice",
            "sasl.password": "s3cret-pw",
            "ssl.ca.location": str(certs / "ca.pem"),
        }
    )
    assert "s3cret-pw" not in repr(security)
    assert security.describe() == "SASL_SSL · SCRAM-SHA-256 as alice"
    assert redact("auth failed for s3cret-pw", security) == "auth failed for ***"
    assert "s3cret-pw" not in repr(BrokerAddress("h", 1).secured(security))


def test_written_properties_are_private_and_read_back_the_same(tmp_path: Path, certs: Path) -> None:
    security = from_properties(
        {
            "security.protocol": "SSL",
            "ssl.ca.location": str(certs / "ca.pem"),
            "ssl.certificate.location": str(certs / "client.pem"),
            "ssl.key.location": str(certs / "client-key.pem"),
            "ssl.endpoint.identification.algorithm": "",
        }
    )
    path = write_properties(security, str(tmp_path / "c.properties"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = from_properties(read_properties(path))
    assert again == security
    assert not again.check_hostname


def test_the_apps_credentials_are_faust_drivers_and_hand_over_their_ca(tmp_path: Path, certs: Path) -> None:
    """The touchpoint (Faust's ``credentials_to_aiokafka_auth``) gives what the app's clients get;
    the app's live TLS context stays live in its process and its CA crosses to another as a file."""
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    app = faust.App(
        "security-contract",
        broker="kafka://127.0.0.1:1",
        web_enabled=False,
        datadir=None,
        broker_credentials=faust.SASLCredentials(
            username="alice", password="pw", mechanism="SCRAM-SHA-512", ssl_context=context
        ),
    )
    kwargs = touchpoints.kafka_auth(app)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["ssl_context"] is context
    security = app_security(app)
    assert security.aiokafka()["ssl_context"] is context
    assert security.aiokafka()["sasl_plain_password"] == "pw"
    handed = portable(security, str(tmp_path))
    assert handed.context is None and handed.ca_location is not None
    assert Path(handed.ca_location).read_text() == (certs / "ca.pem").read_text()
    assert stat.S_IMODE(os.stat(handed.ca_location).st_mode) == 0o600
    plain_app = faust.App("plain-contract", broker="kafka://127.0.0.1:1", web_enabled=False, datadir=None)
    assert app_security(plain_app).plain
    assert from_aiokafka({"security_protocol": "SSL"}).tls  # Faust's default: a system-trust context


def test_faust_settings_give_an_app_the_x_credentials(certs: Path) -> None:
    security = from_properties(
        {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "bob",
            "sasl.password": "pw",
            "ssl.ca.location": str(certs / "ca.pem"),
        }
    )
    credentials = faust_settings(security)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.mechanism.value, credentials.protocol.value) == (
        "bob",
        "PLAIN",
        "SASL_SSL",
    )
    assert faust_settings(PLAINTEXT) == {}


def test_a_faust_workers_settings_come_from_its_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.properties"
    path.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=a\n")
    security = from_environment(
        {"GENMON_KAFKA_CONFIG": str(path), "GENMON_KAFKA_PROPERTIES": "sasl.password=b\n"}
    )
    assert security is not None and (security.username, security.password) == ("a", "b")
    assert from_environment({}) is None
