"""URLs: the REST API under /api/v1, the admin, and the pages (``playground.page_urls``)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from playground.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("metrics", include("playground.metrics")),  # the server's own Prometheus metrics (engineer H)
    path("", include("playground.page_urls")),
]
