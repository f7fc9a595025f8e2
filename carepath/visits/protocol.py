"""The signaling protocol: what a browser may send on ws/visits/<id>/, checked strictly before
anything is relayed or saved. Unknown types, unknown keys, wrong types and oversize messages
are refused with a reason; nothing malformed reaches another participant.

client -> server                                    server -> client
  {"type": "join", "session": str}                    hello, waiting, admitted, joined,
  {"type": "offer"|"answer", "to": id, "sdp": {...}}  peer-joined, peer-left, offer, answer,
  {"type": "ice", "to": id, "candidate": {...}|null}  ice, chat, mode, vitals, lobby, ended,
  {"type": "chat", "text": str}                       removed, replaced, error, pong
  {"type": "mode", "mode": "video"|"audio"|"chat"}
  {"type": "vitals", "values": {name: number}}
  {"type": "leave"} / {"type": "ping"}
Every message may carry "ts" (a number, passed through: clients time their round trips)."""

import json
import math
import re
import time
from typing import Any

MESSAGE_TYPES = frozenset(
    {"join", "offer", "answer", "ice", "chat", "mode", "vitals", "leave", "ping"}
)
RELAYED_TYPES = frozenset({"offer", "answer", "ice"})
MAX_SDP = 60_000
MAX_CANDIDATE = 2_000
MAX_CHAT = 2_000
SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class Malformed(Exception):  # noqa: N818 - reads as what the message is
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Vital signs a telefacilitator may enter: LOINC code, display, UCUM unit, plausible range.
VITALS: dict[str, tuple[str, str, str, float, float]] = {
    "bp_systolic": ("8480-6", "Systolic blood pressure", "mm[Hg]", 60, 260),
    "bp_diastolic": ("8462-4", "Diastolic blood pressure", "mm[Hg]", 30, 160),
    "heart_rate": ("8867-4", "Heart rate", "/min", 25, 250),
    "temperature": ("8310-5", "Body temperature", "Cel", 30, 45),
    "spo2": ("59408-5", "Oxygen saturation (pulse oximetry)", "%", 50, 100),
    "weight": ("29463-7", "Body weight", "kg", 0.5, 350),
}


def _keys(message: dict[str, Any], allowed: set[str]) -> None:
    extra = set(message) - allowed - {"type", "ts"}
    if extra:
        raise Malformed(f"unexpected field(s): {', '.join(sorted(extra))[:100]}")


def _str(value: Any, name: str, max_length: int, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise Malformed(f"{name} must be a string")
    if len(value) > max_length:
        raise Malformed(f"{name} is too long")
    if not empty and not value.strip():
        raise Malformed(f"{name} is empty")
    return value


def _peer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise Malformed("to must be a participant id")
    return value


def _sdp(value: Any, kind: str) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != {"type", "sdp"}:
        raise Malformed("sdp must be {type, sdp}")
    if value["type"] != kind:
        raise Malformed(f"sdp.type must be {kind}")
    return {"type": kind, "sdp": _str(value["sdp"], "sdp", MAX_SDP, empty=False)}


def _candidate(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None  # end of candidates
    if not isinstance(value, dict):
        raise Malformed("candidate must be an object or null")
    allowed = {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}
    if set(value) - allowed or "candidate" not in value:
        raise Malformed("candidate has unexpected fields")
    clean: dict[str, Any] = {"candidate": _str(value["candidate"], "candidate", MAX_CANDIDATE)}
    for key, limit in (("sdpMid", 64), ("usernameFragment", 256)):
        if value.get(key) is not None:
            clean[key] = _str(value[key], key, limit)
    index = value.get("sdpMLineIndex")
    if index is not None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64:
            raise Malformed("sdpMLineIndex must be a small integer")
        clean["sdpMLineIndex"] = index
    return clean


def check_vitals(values: Any) -> dict[str, float]:
    """Known names only, numbers only, each within its plausible range; systolic above
    diastolic. Raises Malformed naming the first problem."""
    if not isinstance(values, dict) or not values:
        raise Malformed("values must name at least one vital sign")
    clean: dict[str, float] = {}
    for name, value in values.items():
        if name not in VITALS:
            raise Malformed(f"unknown vital sign: {str(name)[:40]}")
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise Malformed(f"{name} must be a number")
        _code, display, unit, low, high = VITALS[name]
        if not low <= value <= high:
            raise Malformed(f"{display} must be between {low:g} and {high:g} {unit}")
        clean[name] = round(float(value), 2)
    systolic, diastolic = clean.get("bp_systolic"), clean.get("bp_diastolic")
    if (systolic is None) != (diastolic is None):
        raise Malformed("blood pressure needs both systolic and diastolic")
    if systolic is not None and diastolic is not None and systolic <= diastolic:
        raise Malformed("systolic pressure must be above diastolic")
    return clean


def parse_message(text: str, max_bytes: int) -> dict[str, Any]:
    """The validated message, or Malformed."""
    if len(text) > max_bytes or len(text.encode()) > max_bytes:
        raise Malformed("message too large")
    try:
        message = json.loads(text)
    except ValueError as error:
        raise Malformed("not JSON") from error
    if not isinstance(message, dict):
        raise Malformed("a message is a JSON object")
    kind = message.get("type")
    if kind not in MESSAGE_TYPES:
        raise Malformed("unknown message type")
    ts = message.get("ts")
    if ts is not None and (
        not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts)
    ):
        raise Malformed("ts must be a number")
    clean: dict[str, Any] = {"type": kind}
    if ts is not None:
        clean["ts"] = ts
    if kind == "join":
        _keys(message, {"session"})
        session = message.get("session", "")
        if not isinstance(session, str) or not SESSION_RE.match(session):
            raise Malformed("session must be 1-40 letters, digits, - or _")
        clean["session"] = session
    elif kind in ("offer", "answer"):
        _keys(message, {"to", "sdp"})
        clean["to"] = _peer(message.get("to"))
        clean["sdp"] = _sdp(message.get("sdp"), kind)
    elif kind == "ice":
        _keys(message, {"to", "candidate"})
        clean["to"] = _peer(message.get("to"))
        clean["candidate"] = _candidate(message.get("candidate"))
    elif kind == "chat":
        _keys(message, {"text"})
        clean["text"] = _str(message.get("text"), "text", MAX_CHAT, empty=False).strip()
    elif kind == "mode":
        _keys(message, {"mode"})
        if message.get("mode") not in ("video", "audio", "chat"):
            raise Malformed("mode must be video, audio or chat")
        clean["mode"] = message["mode"]
    elif kind == "vitals":
        _keys(message, {"values"})
        clean["values"] = check_vitals(message.get("values"))
    else:
        _keys(message, set())
    return clean


class TokenBucket:
    """Per-socket rate limit: `rate` messages a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
