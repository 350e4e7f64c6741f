"""The app's credentials, both ways: what genmon's clients use when they go where the app goes, and
what a Faust app is given when genmon points it at a secured broker with ``-X``.

Faust holds credentials as ``broker_credentials`` (``SASLCredentials``, ``SSLCredentials``,
``OAuthCredentials``, ``GSSAPICredentials``) and ``ssl_context``; its aiokafka driver turns them
into client keyword arguments (:func:`genmon.probe.touchpoints.kafka_auth`), and
:func:`genmon.broker.security.from_aiokafka` keeps those as genmon's :class:`Security`.
"""

from __future__ import annotations

from typing import Any

from genmon.broker.security import Security, from_aiokafka
from genmon.probe.touchpoints import kafka_auth


def app_security(app: Any) -> Security:
    """How ``app`` connects (plaintext when it names no credentials)."""
    return from_aiokafka(kafka_auth(app))


def has_credentials(app: Any) -> bool:
    return app.conf.broker_credentials is not None or app.conf.ssl_context is not None


def faust_settings(security: Security) -> dict[str, Any]:
    """Faust settings that make an app connect with ``security`` (empty for plaintext)."""
    import faust

    if security.plain:
        return {}
    context = security.ssl_context()
    if security.sasl:
        return {
            "broker_credentials": faust.SASLCredentials(
                username=security.username,
                password=security.password,
                mechanism=security.mechanism,
                ssl_context=context,
            )
        }
    return {"broker_credentials": faust.SSLCredentials(context)}
