"""Listener links: the public base URL of a hosted test and the personal resume link.

Behind an HTTPS reverse proxy the server sees plain HTTP from 127.0.0.1, so links cannot be
built from the request: the administrator gives the address listeners use
(``evalsuite mushra serve --public-url https://host/path`` or $EVALSUITE_MUSHRA_PUBLIC_URL).
Without it, a listener's own link is taken from the address their browser shows (right behind a
proxy too), and admin-made links from the admin's browser (which may be a tunnel to 127.0.0.1:
the admin view warns then).
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlencode, urlsplit, urlunsplit

from .config import ConfigError


def normalize_public_url(url: str) -> str:
    """``scheme://host[:port]/path/`` with a trailing slash; ValueError with the reason otherwise."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"public URL {url!r}: give the full address listeners open, e.g. https://listen.example.org/")
    if parts.query or parts.fragment:
        raise ConfigError(f"public URL {url!r}: no query or fragment, only scheme, host and path")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def base_path(public_url: str) -> str:
    """The URL path under which the app is served ('' at the root), for Streamlit's baseUrlPath."""
    return urlsplit(normalize_public_url(public_url)).path.strip("/")


def base_from_browser(url: str | None) -> str | None:
    """The page address a browser shows, without query or fragment (None if unusable)."""
    try:
        return normalize_public_url(urlunsplit(urlsplit(url or "")[:3] + ("", "")))
    except ValueError:
        return None


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def personal_link(base: str, listener_id: str, token: str) -> str:
    """The listener's resume link under ``base`` ('/' when no address is known)."""
    return f"{base}?{urlencode({'listener': listener_id, 'token': token})}"
