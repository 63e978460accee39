"""The admin shows scenarios with their pods and events, and never the edit token."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from playground import services
from tests.playground.conftest import guaranteed_pod, machine_doc

pytestmark = pytest.mark.django_db


def test_the_admin_lists_and_shows_a_scenario(admin_client: Client) -> None:
    created = services.create_scenario(machine_doc("4Gi"))
    services.admit_pods(created.scenario.public_id, created.edit_token, [guaranteed_pod("web")])
    listing = admin_client.get("/admin/playground/scenario/")
    assert listing.status_code == 200 and created.scenario.public_id in listing.content.decode()
    page = admin_client.get(f"/admin/playground/scenario/{created.scenario.pk}/change/").content.decode()
    assert "web" in page and created.edit_token not in page
    for url in ("/admin/playground/event/", "/admin/playground/pod/"):
        assert admin_client.get(url).status_code == 200


def test_the_admin_needs_a_staff_login(client: Client) -> None:
    response: Any = client.get("/admin/playground/scenario/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
