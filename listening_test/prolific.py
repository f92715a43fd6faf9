"""Prolific (prolific.com) studies.

Set the study's URL on Prolific to ``<public URL>/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID=
{{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}``. The participant's PROLIFIC_PID becomes their
listener ID (nothing typed), SESSION_ID is their secret (stored hashed, like any listener token),
STUDY_ID is checked against the test's study when one is configured. At the end the listener is
sent to ``<completion URL>?cc=<completion code>``; a listener who fails the headphone screening
is sent there with the screen-out code instead.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from .config import ProlificSettings

_PID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_STUDY = re.compile(r"^[A-Za-z0-9]{1,64}$")
_SESSION = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")


@dataclass(frozen=True)
class ProlificVisit:
    pid: str
    study_id: str
    session_id: str


def visit_from_query(query: Mapping[str, str]) -> ProlificVisit | None:
    """The Prolific identity in a link, None without PROLIFIC_PID; ValueError if malformed."""
    pid = query.get("PROLIFIC_PID")
    if not pid:
        return None
    study, session = query.get("STUDY_ID") or "", query.get("SESSION_ID") or ""
    if not (_PID.match(pid) and _STUDY.match(study) and _SESSION.match(session)):
        raise ValueError("malformed Prolific link (PROLIFIC_PID, STUDY_ID and SESSION_ID are all needed)")
    return ProlificVisit(pid, study, session)


def completion_link(settings: ProlificSettings, code: str) -> str:
    """Where Prolific records the submission with ``code``."""
    return f"{settings.completion_url}?{urlencode({'cc': code})}"
