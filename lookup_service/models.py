"""Request and response bodies of the HTTP contract (docs/http.md), with OpenAPI examples."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict, JsonValue

ID_PATTERN = r"^[A-Za-z0-9._~:@+=\-]+$"
ID_RULE = "1-128 characters from A-Z a-z 0-9 . _ ~ : @ + = -"
LOGIN_HASH_PATTERN = r"^[0-9a-f]{64}$"
LOGIN_HASH_RULE = "64 lowercase hex characters (SHA-256 of the normalised login)"

SiteId = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=ID_PATTERN, description=f"Site: {ID_RULE}."),
]
CookieId = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=ID_PATTERN, description=f"Cookie: {ID_RULE}."),
]
LoginHash = Annotated[
    str, Field(pattern=LOGIN_HASH_PATTERN, description=f"Hashed login: {LOGIN_HASH_RULE}.")
]

EXAMPLE_IDENTITY: JsonDict = {
    "site_id": "news-site-01",
    "cookie_id": "c-5f2b9a7e",
    "unified_id": "u_3fa85f6457174562",
    "household_id": "h9c01d2e3f4a5",
    "confidence": 0.941,
    "graph_version": "20240105.3",
}
EXAMPLE_LOGIN = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


class Identity(BaseModel):
    """The person (unified id) a cookie belongs to, in the graph version that answered."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_IDENTITY]})

    site_id: str
    cookie_id: str
    unified_id: str
    household_id: str | None = Field(
        description="The person's household (or the person alone); null only from a graph "
        "version published before households (Redis format 1)."
    )
    confidence: float = Field(ge=0, le=1, description="Link confidence, in steps of 1/255.")
    graph_version: str


class Uid(BaseModel):
    """One OpenRTB 2.6 ``user.eids[].uids[]`` entry."""

    id: str
    atype: int = Field(
        3, description="3: a person-based id (OpenRTB agent type); the household uid: 501."
    )


class Eid(BaseModel):
    """One OpenRTB 2.6 ``user.eids[]`` entry."""

    source: str
    uids: list[Uid]


class Eids(BaseModel):
    """The OpenRTB 2.6 ``user.eids`` shape (``?format=eids``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "eids": [
                        {
                            "source": "idgraph.example.com",
                            "uids": [{"id": "u_3fa85f6457174562", "atype": 3}],
                        },
                        {
                            "source": "household.idgraph.example.com",
                            "uids": [{"id": "h9c01d2e3f4a5", "atype": 501}],
                        },
                    ]
                }
            ]
        }
    )

    eids: list[Eid]


class CookieRef(BaseModel):
    """A first-party cookie."""

    model_config = ConfigDict(extra="forbid")

    site_id: SiteId
    cookie_id: CookieId


class BatchRequest(BaseModel):
    """Up to 1000 cookies, answered in request order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "cookies": [
                        {"site_id": "news-site-01", "cookie_id": "c-5f2b9a7e"},
                        {"site_id": "shop-02", "cookie_id": "never-seen"},
                    ]
                }
            ]
        },
    )

    cookies: list[CookieRef] = Field(min_length=1, max_length=1000)


class BatchResult(BaseModel):
    """One cookie's answer; ``found`` is false (and the id null) for an unknown cookie."""

    site_id: str
    cookie_id: str
    found: bool
    unified_id: str | None = None
    household_id: str | None = None
    confidence: float | None = None


class BatchResponse(BaseModel):
    """Results in the order of the request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "graph_version": "20240105.3",
                    "results": [
                        {
                            "site_id": "news-site-01",
                            "cookie_id": "c-5f2b9a7e",
                            "found": True,
                            "unified_id": "u_3fa85f6457174562",
                            "confidence": 0.941,
                        },
                        {
                            "site_id": "shop-02",
                            "cookie_id": "never-seen",
                            "found": False,
                            "unified_id": None,
                            "confidence": None,
                        },
                    ],
                }
            ]
        }
    )

    graph_version: str
    results: list[BatchResult]


# What ``OptoutRequest._one_form`` accepts, as the schema says it: exactly one of the two
# forms, a part of the other form absent or null.
_OPTOUT_FORMS: list[JsonValue] = [
    {
        "title": "cookie",
        "required": ["site_id", "cookie_id"],
        "properties": {
            "site_id": {"type": "string"},
            "cookie_id": {"type": "string"},
            "login_hash": {"type": "null"},
        },
    },
    {
        "title": "login hash",
        "required": ["login_hash"],
        "properties": {
            "login_hash": {"type": "string"},
            "site_id": {"type": "null"},
            "cookie_id": {"type": "null"},
        },
    },
]


class OptoutRequest(BaseModel):
    """Either a cookie (``site_id`` and ``cookie_id``) or a ``login_hash``, not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"site_id": "news-site-01", "cookie_id": "c-5f2b9a7e"},
                {"login_hash": EXAMPLE_LOGIN},
            ],
            "oneOf": _OPTOUT_FORMS,
        },
    )

    site_id: SiteId | None = None
    cookie_id: CookieId | None = None
    login_hash: LoginHash | None = None

    @model_validator(mode="after")
    def _one_form(self) -> OptoutRequest:
        cookie = self.site_id is not None or self.cookie_id is not None
        if self.login_hash is not None and cookie:
            raise ValueError("give either site_id+cookie_id or login_hash, not both")
        if self.login_hash is None and (self.site_id is None or self.cookie_id is None):
            raise ValueError("give both site_id and cookie_id, or a login_hash")
        return self


class OptoutResponse(BaseModel):
    """The opt-out is recorded; ``removed`` cookies (the whole person) left the live graph."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "recorded", "kind": "cookie", "removed": 3}]}
    )

    status: Literal["recorded"] = "recorded"
    kind: Literal["cookie", "login_hash"]
    removed: int


FEEDBACK_REASON_MAX = 500

# What a free-text reason must not carry into the lake: e-mail addresses and IP addresses
# (a sender pasting a support ticket). Replaced by a placeholder before the verdict is stored.
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(
    r"(?<![\w:])(?:(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f:]*::[0-9A-Fa-f:.]*)(?![\w:])"
)


def redact_reason(text: str) -> str:
    """``text`` with e-mail and IP addresses replaced by ``[email]`` / ``[ip]``."""
    text = _EMAIL.sub("[email]", text)
    text = _IPV4.sub("[ip]", text)
    return _IPV6.sub("[ip]", text)


class FeedbackRequest(BaseModel):
    """A verdict on two cookies: the graph joined two people, or missed that they are one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "a": {"site_id": "news-site-01", "cookie_id": "c-5f2b9a7e"},
                    "b": {"site_id": "shop-02", "cookie_id": "c-77d1e0aa"},
                    "verdict": "different_people",
                    "reason": "shared family tablet",
                }
            ]
        },
    )

    a: CookieRef
    b: CookieRef
    verdict: Literal["different_people", "same_person"]
    reason: str | None = Field(
        default=None,
        max_length=FEEDBACK_REASON_MAX,
        description="Free text, at most 500 characters; e-mail and IP addresses are redacted.",
    )

    @model_validator(mode="after")
    def _two_cookies(self) -> FeedbackRequest:
        if (self.a.site_id, self.a.cookie_id) == (self.b.site_id, self.b.cookie_id):
            raise ValueError("a and b must be two different cookies")
        if self.reason is not None:
            self.reason = redact_reason(self.reason.strip()) or None
        return self


class FeedbackResponse(BaseModel):
    """The verdict is recorded; it takes effect in the next daily graph."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "accepted",
                    "verdict": "different_people",
                    "received_at": "2026-11-07T09:12:31.044+00:00",
                    "takes_effect": "next daily graph",
                }
            ]
        }
    )

    status: Literal["accepted"] = "accepted"
    verdict: Literal["different_people", "same_person"]
    received_at: str
    takes_effect: Literal["next daily graph"] = "next daily graph"


class Health(BaseModel):
    """Liveness."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Readiness: Redis reachable and a graph version published."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ready", "graph_version": "20240105.3", "reason": None},
                {"status": "not ready", "graph_version": None, "reason": "redis unreachable"},
            ]
        }
    )

    status: Literal["ready", "not ready"]
    graph_version: str | None = None
    reason: str | None = None


class Problem(BaseModel):
    """An error: what went wrong, in words."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "missing or invalid API key"}]}
    )

    detail: str
