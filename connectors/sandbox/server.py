"""Serve the sandbox over real HTTP on loopback, in a background thread or in the foreground."""

from __future__ import annotations

import os
import shlex
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import trustme
import uvicorn
from fastapi import FastAPI

from connectors.sandbox.hubspot import HubSpotSandbox
from connectors.sandbox.salesforce import NotificationSetup, SalesforceSandbox
from connectors.sandbox.webhooks import WebhookConfig


def build_app(hubspot: HubSpotSandbox, salesforce: SalesforceSandbox) -> FastAPI:
    app = FastAPI(title="Relais sandbox CRMs", docs_url="/_sandbox/docs", openapi_url=None)
    app.include_router(hubspot.router)
    app.include_router(salesforce.router)

    @app.get("/_sandbox/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class SandboxServer:
    """The sandbox: HubSpot and the control API on ``http://127.0.0.1:<port>``, Salesforce on
    ``https://127.0.0.1:<tls_port>`` with a certificate authority generated at start (the
    connector must be told to trust ``ca_path``; nothing turns verification off).
    Port 0 picks a free port."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_port: int = 0,
        hubspot_token: str = "sandbox-token",
    ) -> None:
        self.hubspot = HubSpotSandbox(access_token=hubspot_token)
        self.salesforce = SalesforceSandbox()
        self.app = build_app(self.hubspot, self.salesforce)
        self._tmp = tempfile.TemporaryDirectory(prefix="relais-sandbox-tls-")
        ca = trustme.CA(organization_name="Relais sandbox CA")
        server_pem = Path(self._tmp.name) / "server.pem"
        ca.issue_cert(host, "localhost").private_key_and_cert_chain_pem.write_to_path(
            str(server_pem)
        )
        self.ca_path = Path(self._tmp.name) / "sandbox-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        # A fake CRM need not wait for its clients' idle keep-alive connections to close.
        self._http = ThreadedServer(
            self.app, host=host, port=port, lifespan="off", graceful_seconds=1
        )
        self._https = ThreadedServer(
            self.app,
            host=host,
            port=tls_port,
            lifespan="off",
            ssl_pem=server_pem,
            graceful_seconds=1,
        )
        self.salesforce.instance_url = self.salesforce_url

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def salesforce_url(self) -> str:
        return f"https://{self._https.host}:{self._https.port}"

    def relais_environment(
        self, *, webhook_secret: str, relais_url: str | None = None
    ) -> dict[str, str]:
        """Every ``RELAIS_*`` variable ``relais serve`` needs to use this sandbox as its two
        CRMs: API access to both, and the secrets that verify their webhooks
        (``webhook_secret`` is HubSpot's app client secret and the Flow callouts' HMAC key)."""
        sf = self.salesforce.state
        env = {
            "RELAIS_HUBSPOT_BASE_URL": self.url,
            "RELAIS_HUBSPOT_ACCESS_TOKEN": self.hubspot.state.access_token,
            "RELAIS_HUBSPOT_CLIENT_SECRET": webhook_secret,
            "RELAIS_SALESFORCE_LOGIN_URL": self.salesforce_url,
            "RELAIS_SALESFORCE_AUTH": "client_credentials",
            "RELAIS_SALESFORCE_CLIENT_ID": sf.client_id,
            "RELAIS_SALESFORCE_CLIENT_SECRET": sf.client_secret,
            "RELAIS_SALESFORCE_CA_BUNDLE": str(self.ca_path),
            "RELAIS_SALESFORCE_ORG_ID": sf.org_id,
            "RELAIS_SALESFORCE_WEBHOOK_SECRET": webhook_secret,
        }
        if relais_url:
            # The URL the sandbox calls is the one HubSpot signs: Relais must rebuild that one.
            env["RELAIS_PUBLIC_URL"] = relais_url.rstrip("/")
        return env

    def connect_relais(self, relais_url: str, *, webhook_secret: str) -> None:
        """Send HubSpot webhooks (signed with ``webhook_secret``) and Salesforce Outbound
        Messages to Relais at ``relais_url``, as an admin would set both CRMs up."""
        base = relais_url.rstrip("/")
        self.hubspot.webhooks.configure(
            WebhookConfig(target_url=f"{base}/webhooks/hubspot", client_secret=webhook_secret)
        )
        self.salesforce.notifications.configure(
            NotificationSetup(target_url=f"{base}/webhooks/salesforce/outbound-message")
        )

    def start(self) -> SandboxServer:
        self._http.start()
        self._https.start()
        return self

    def serve_forever(self) -> None:
        self._https.start()
        try:
            self._http._server.run(sockets=[self._http._sock])
        finally:
            self._https.stop()
            self.close()

    def close(self) -> None:
        self.hubspot.webhooks.close()
        self.salesforce.notifications.close()
        self._tmp.cleanup()

    def stop(self) -> None:
        # A fake CRM has nothing to drain: an idle TLS keep-alive connection would otherwise
        # hold the shutdown for the whole grace period, in every test that used Salesforce.
        self._http.stop(force=True)
        self._https.stop(force=True)
        self.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def env_lines(env: dict[str, str]) -> str:
    """``KEY=value`` lines a POSIX shell can source (``set -a; . FILE; set +a``)."""
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in env.items())


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Write ``env_lines`` readable by its owner only: the file holds secrets."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(fd, "w") as out:
        out.write(env_lines(env))


class ThreadedServer:
    """Any ASGI app on a free loopback port in a daemon thread (tests, demo, benchmarks)."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: str = "on",
        ssl_pem: Path | None = None,
        graceful_seconds: int = 2,
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan=lifespan,  # type: ignore[arg-type]
            timeout_graceful_shutdown=graceful_seconds,
            http="httptools",
            ssl_certfile=str(ssl_pem) if ssl_pem else None,
            ssl_keyfile=str(ssl_pem) if ssl_pem else None,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ThreadedServer:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self, *, force: bool = False) -> None:
        """Stop serving; ``force`` skips waiting for open connections and running requests."""
        self._server.should_exit = True
        self._server.force_exit = force
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
