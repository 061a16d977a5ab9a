"""The Upstash REST wire format: request bodies in, JSON replies out. Pure functions, no I/O."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict

# One Redis command as sent to the server: the name first, every argument as text.
type Command = list[str]


@dataclass(frozen=True, slots=True)
class ReplyError:
    """An error reply from Redis (or refused here), with its full text: `WRONGTYPE ...`."""

    message: str


# A Redis reply as the backend hands it over, already in RESP2 shape.
type Reply = "int | bytes | ReplyError | list[Reply] | None"
type JsonReply = "int | str | list[JsonReply] | None"


class ResultSlot(TypedDict):
    result: JsonReply


class ErrorSlot(TypedDict):
    error: str


type Slot = ResultSlot | ErrorSlot


class Kind(StrEnum):
    """Which protocol endpoint a request was posted to."""

    SINGLE = ""
    PIPELINE = "pipeline"
    MULTI_EXEC = "multi-exec"


class BadRequest(ValueError):
    """The body is not what the endpoint expects; answered with HTTP 400 and nothing runs."""


def kind_of_path(path: str) -> Kind | None:
    """Map a request path to its endpoint.

    The SDK builds pipeline URLs as `f"{url}/pipeline"`, so a base URL given with a trailing
    slash yields `//pipeline`; stripping every slash accepts both spellings.
    """
    try:
        return Kind(path.strip("/"))
    except ValueError:
        return None


def parse_body(body: bytes, kind: Kind) -> list[Command]:
    """Decode a request body into the commands to run (one for `/`, any number otherwise)."""
    try:
        payload: object = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"ERR request body is not valid JSON: {exc}") from exc
    if kind is Kind.SINGLE:
        return [parse_command(payload)]
    if not isinstance(payload, list):
        raise BadRequest("ERR a pipeline body must be a JSON array of commands")
    return [parse_command(item) for item in payload]


def parse_command(payload: object) -> Command:
    if not isinstance(payload, list) or not payload:
        raise BadRequest("ERR a command must be a non-empty JSON array")
    return [_argument_text(item) for item in payload]


def _argument_text(item: object) -> str:
    # bool before int: JSON true is a Python int subclass and must not become "True".
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str | int | float):
        return str(item)
    raise BadRequest(f"ERR command arguments must be strings or numbers, got {item!r}")


def encode_reply(reply: Reply, as_base64: bool) -> JsonReply:
    """Turn a Redis reply into its JSON form, base64-encoding every string at any depth.

    Without base64 the bytes are sent as UTF-8 text; bytes that are not UTF-8 cannot travel in
    JSON text, so they are replaced (clients that store binary data must ask for base64).
    """
    if reply is None or isinstance(reply, int):
        return reply
    if isinstance(reply, list):
        return [encode_reply(item, as_base64) for item in reply]
    raw = reply.message.encode() if isinstance(reply, ReplyError) else reply
    if as_base64:
        return base64.b64encode(raw).decode("ascii")
    return raw.decode("utf-8", errors="replace")


def encode_slot(reply: Reply, as_base64: bool) -> Slot:
    # Error texts are never base64-encoded: the SDK raises them as they are.
    if isinstance(reply, ReplyError):
        return ErrorSlot(error=reply.message)
    return ResultSlot(result=encode_reply(reply, as_base64))


def dump_json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
