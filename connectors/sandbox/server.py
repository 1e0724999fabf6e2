"""Serve the sandbox over real HTTP on loopback, in a background thread or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

from connectors.sandbox.hubspot import HubSpotSandbox


def build_app(hubspot: HubSpotSandbox) -> FastAPI:
    app = FastAPI(title="Relais sandbox CRMs", docs_url="/_sandbox/docs", openapi_url=None)
    app.include_router(hubspot.router)

    @app.get("/_sandbox/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class SandboxServer:
    """The sandbox on ``http://127.0.0.1:<port>``; ``port=0`` picks a free one."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, hubspot_token: str = "sandbox-token"
    ) -> None:
        self.hubspot = HubSpotSandbox(access_token=hubspot_token)
        self.app = build_app(self.hubspot)
        self._http = ThreadedServer(self.app, host=host, port=port, lifespan="off")

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> SandboxServer:
        self._http.start()
        return self

    def serve_forever(self) -> None:
        try:
            self._http._server.run(sockets=[self._http._sock])
        finally:
            self.hubspot.webhooks.close()

    def stop(self) -> None:
        self._http.stop()
        self.hubspot.webhooks.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class ThreadedServer:
    """Any ASGI app on a free loopback port in a daemon thread (tests, demo, benchmarks)."""

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, lifespan: str = "on"
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
            timeout_graceful_shutdown=2,
            http="httptools",
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

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
