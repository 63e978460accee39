"""Routes of the HTML pages; included by ``playground.urls``."""

from __future__ import annotations

from django.urls import path
from django.views.generic import TemplateView

from playground import views

urlpatterns = [
    path("", views.index, name="playground-index"),
    # Named "scenario" with ``public_id``: services.share_path() reverses it for share links.
    path("s/<str:public_id>/", views.scenario, name="scenario"),
    path("import/", TemplateView.as_view(template_name="playground/import.html"), name="import"),
]
