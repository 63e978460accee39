"""HTML pages: the start page and the scenario page.

The pages are thin shells: the scripts in ``static/playground/js`` draw everything from the REST API
and the websocket. The scenario page embeds the current scenario view (through ``json_script``,
which escapes it for a <script> block) so the picture appears before the socket opens.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from playground import services


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """Start a scenario: presets, the machine form, paste or upload a document."""
    return render(request, "playground/index.html")


@require_safe
def scenario(request: HttpRequest, public_id: str) -> HttpResponse:
    """The live scenario page; 404 for an id that does not exist."""
    try:
        found = services.get_scenario(public_id)
    except services.NotFound:
        raise Http404(f"There is no scenario {public_id!r}.") from None
    base_url = f"{request.scheme}://{request.get_host()}"
    context = {
        "scenario": found,
        "scenario_view": services.scenario_view(found, base_url=base_url),
    }
    return render(request, "playground/scenario.html", context)
