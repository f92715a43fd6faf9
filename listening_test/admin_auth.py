"""The admin token: refuse weak ones, limit guesses.

Strength is estimated, not proven: at least 16 characters, 8 distinct, and about 80 bits when
each character that does not simply repeat or continue a run (``aaaa``, ``abcd``, ``4321``)
counts log2(alphabet) bits, the alphabet being the character classes used (lower, upper,
digits, others). ``secrets.token_urlsafe(16)`` scores ~130 bits; ``s3cret-admin`` is refused.

Guesses: failed logins are stored in the ratings database (shared by every session and server
process). After MAX_FAILURES failures within WINDOW_S, no token is checked at all, right or
wrong, until the oldest of them leaves the window. Someone guessing can thus lock the admin out
for a while; the command line (`evalsuite mushra report`, `evalsuite mushra link`) keeps working.
"""
from __future__ import annotations

import hmac
import math
import string
from dataclasses import dataclass

MIN_LENGTH = 16
MIN_DISTINCT = 8
MIN_BITS = 80.0
MAX_FAILURES = 5
WINDOW_S = 900.0
GENERATE_HINT = "generate one with: python -c \"import secrets; print(secrets.token_urlsafe(24))\""


def estimated_bits(token: str) -> float:
    pool = sum(n for chars, n in ((string.ascii_lowercase, 26), (string.ascii_uppercase, 26), (string.digits, 10))
               if any(c in chars for c in token))
    if any(not c.isalnum() for c in token):
        pool += 33
    informative = 1 + sum(abs(ord(b) - ord(a)) > 1 for a, b in zip(token, token[1:])) if token else 0
    return informative * math.log2(max(pool, 2))


def token_problem(token: str) -> str | None:
    """Why ``token`` is too weak to guard the admin view, or None."""
    if len(token) < MIN_LENGTH:
        return f"it has {len(token)} characters, at least {MIN_LENGTH} are needed"
    if len(set(token)) < MIN_DISTINCT:
        return f"it uses only {len(set(token))} different characters"
    bits = estimated_bits(token)
    if bits < MIN_BITS:
        return f"it is too predictable (about {bits:.0f} bits, at least {MIN_BITS:.0f} needed)"
    return None


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    message: str = ""


def check_login(store, expected: str, given: str, now: float, max_failures: int = MAX_FAILURES,
                window_s: float = WINDOW_S) -> LoginResult:
    """Compare ``given`` with ``expected`` unless too many recent failures lock the login."""
    failures = store.admin_failures_since(now - window_s)
    if len(failures) >= max_failures:
        wait = failures[-max_failures] + window_s - now
        return LoginResult(False, f"Too many wrong admin tokens: admin login is locked for "
                                  f"{max(1, math.ceil(wait / 60))} more minute(s).")
    ok = hmac.compare_digest(given.encode(), expected.encode())
    store.record_admin_attempt(ok, now)
    return LoginResult(ok, "" if ok else "Wrong admin token.")
