"""The HTML pages (playground.views): routes, the embedded scenario view, escaping."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from playground import services

pytestmark = pytest.mark.django_db

HOSTILE = "<img src=x onerror=alert(1)>"


def embedded_view(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="scenario-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the scenario page embeds its view for the first paint"
    return json.loads(match.group(1))


def test_the_start_page_loads_its_module_and_the_forms(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="module"' in html and "playground/js/index.js" in html
    assert 'id="machine-form"' in html and 'id="paste-form"' in html
    assert 'name="csrf-token"' in html


def test_the_scenario_page_embeds_the_same_view_as_the_api(
    client: Client, create: Callable[[dict[str, Any]], Any], two_nodes: dict[str, Any]
) -> None:
    owner = create(two_nodes)
    response = client.get(f"/s/{owner.id}/")
    assert response.status_code == 200
    view = embedded_view(response.content.decode())
    api_view = owner.view()
    for key in ("id", "version", "state", "numa_groups", "pods", "machine", "kubelet"):
        assert view[key] == api_view[key]


def test_the_share_link_points_at_the_scenario_page(
    client: Client, create: Callable[[dict[str, Any]], Any], two_nodes: dict[str, Any]
) -> None:
    owner = create(two_nodes)
    assert services.share_path(owner.id) == f"/s/{owner.id}/"
    assert client.get(services.share_path(owner.id)).status_code == 200


def test_an_unknown_scenario_is_a_404(client: Client) -> None:
    assert client.get("/s/no-such-scenario/").status_code == 404


def test_pages_only_answer_get_and_head(client: Client) -> None:
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


def test_user_strings_are_escaped_in_the_page(
    client: Client, create: Callable[[dict[str, Any]], Any], two_nodes: dict[str, Any]
) -> None:
    owner = create({**two_nodes, "name": HOSTILE})
    html = client.get(f"/s/{owner.id}/").content.decode()
    assert HOSTILE not in html  # neither in the title/heading nor inside the JSON script block
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert embedded_view(html)["name"] == HOSTILE
