"""Response headers Django has no setting for: a Content-Security-Policy on every response.

The pages load only their own scripts (ES modules from /static/) and embed data as
``<script type="application/json">`` blocks, which a policy does not execute; so the policy can forbid
inline and foreign scripts outright. That is the backstop if a pod name, label or YAML ever slipped
into the page unescaped. Inline ``style`` attributes (the picture's colours) stay allowed. The
websocket is same-origin: ``connect-src 'self'`` covers ws:// and wss:// to the page's own host.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds the policy unless a view set its own (sync and async, like Django's own middleware)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
