"""Real-browser fixtures: a Daphne live server (websockets included) and Debian's Chromium via Playwright.

The shape follows the verified recipe: the server is forked once per session inside
``django_db_blocker.unblock()`` with asgiref's executor and the channel layers reset in the child;
the browser is module-scoped because Playwright's sync API keeps an event loop running on the main
thread (so it must not outlive the module, or async tests elsewhere would fail).

Personas: ``owner`` opens a scenario holding its edit token (stored in localStorage the way the
start page stores it), ``visitor`` opens the share link without it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from daphne.testing import DaphneProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots of every page a test opened, for looking at failures; data/ is git-ignored.
ARTIFACTS = Path(
    os.environ.get("BROWSER_ARTIFACTS", Path(__file__).resolve().parents[2] / "data" / "browser-artifacts")
)
TOKEN_KEY = "mmp:edit-token:"  # static/playground/js/api.js keeps edit tokens under this prefix


def asgi_app() -> Any:
    """Built inside the server process; module-level so it would also pickle."""
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from playground.asgi import application

    return ASGIStaticFilesHandler(application)


def reset_after_fork() -> None:
    """Runs in the forked server: drop the executor and layers copied from the test process."""
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync
    from channels.layers import channel_layers

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    channel_layers.backends = {}


@pytest.fixture(scope="session")
def live_server_url(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    from django.db import connections

    server = DaphneProcess("127.0.0.1", asgi_app, setup=reset_after_fork)
    with django_db_blocker.unblock():  # the child inherits "DB allowed"...
        connections.close_all()  # ...and no open connections
        server.start()
    if not server.ready.wait(timeout=15):
        raise RuntimeError("daphne did not start")
    yield f"http://127.0.0.1:{server.port.value}"
    server.terminate()
    server.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright keeps a loop running on this thread
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@dataclass
class Scenario:
    """A scenario created through the API, as the tests see it."""

    id: str
    edit_token: str
    created: dict[str, Any]

    @property
    def path(self) -> str:
        return f"/s/{self.id}/"


class Browsing:
    """Opens pages in fresh browser contexts (each one a separate visitor) and talks to the API."""

    def __init__(self, browser: Any, base_url: str, test_name: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.test_name = test_name
        self.contexts: list[Any] = []
        self.pages: list[Any] = []
        self.errors: list[str] = []
        self.api_context: Any = None

    def new_page(self, token_for: Scenario | None = None) -> Any:
        context = self.browser.new_context(base_url=self.base_url, viewport={"width": 1400, "height": 1000})
        if token_for is not None:
            key = json.dumps(TOKEN_KEY + token_for.id)
            value = json.dumps(token_for.edit_token)
            context.add_init_script(f"window.localStorage.setItem({key}, {value});")
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.contexts.append(context)
        self.pages.append(page)
        return page

    def api(self) -> Any:
        """An API client with no token of its own (a page-less browser context's request API)."""
        if self.api_context is None:
            self.api_context = self.browser.new_context(base_url=self.base_url)
            self.contexts.append(self.api_context)
        return self.api_context.request

    def create(self, document: dict[str, Any]) -> Scenario:
        response = self.api().post("/api/v1/scenarios", data=document)
        assert response.status == 201, response.text()
        body = response.json()
        return Scenario(id=body["id"], edit_token=body["edit_token"], created=body)

    def get(self, path: str) -> Any:
        response = self.api().get(path)
        assert response.ok, response.text()
        return response.json()

    def submit(self, scenario: Scenario, pod: dict[str, Any]) -> dict[str, Any]:
        response = self.api().post(
            f"/api/v1/scenarios/{scenario.id}/pods",
            data=pod,
            headers={"Authorization": f"Bearer {scenario.edit_token}"},
        )
        assert response.status == 201, response.text()
        return response.json()

    def open(self, scenario: Scenario, as_owner: bool = True, query: str = "") -> Any:
        page = self.new_page(token_for=scenario if as_owner else None)
        page.goto(scenario.path + query)
        page.wait_for_selector("body[data-ready='true']")
        return page

    def close(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for index, page in enumerate(self.pages):
            suffix = f"-{index}" if index else ""
            # A screenshot is a debugging aid, never a failure.
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{self.test_name}{suffix}.png"), full_page=True)
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser: Any, live_server_url: str, transactional_db: None, request: Any) -> Iterator[Browsing]:
    session = Browsing(browser, live_server_url, request.node.name)
    yield session
    session.close()
    assert not session.errors, f"uncaught errors in the page: {session.errors}"
