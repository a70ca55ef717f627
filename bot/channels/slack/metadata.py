"""Signed modal metadata. Slack hands `private_metadata` back with a submission as the client sent
it, so whatever it carries (which check, where to confirm) is signed with a server key and tied to
the person who opened the modal: a tampered or borrowed value is refused, nothing is saved."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class TamperedMetadata(Exception):
    """The metadata was changed, made up, or belongs to someone else."""


class MetadataSigner:
    def __init__(self, secret: str, purpose: str = "canishare-modal"):
        self.key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()

    def _mac(self, payload: str, user: str) -> str:
        digest = hmac.new(self.key, f"{user}\n{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def sign(self, data: dict[str, Any], user: str) -> str:
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True)
        return json.dumps({"d": payload, "s": self._mac(payload, user)}, separators=(",", ":"))

    def verify(self, text: str, user: str) -> dict[str, Any]:
        try:
            wrapper = json.loads(text)
            payload, signature = wrapper["d"], wrapper["s"]
            if not isinstance(payload, str) or not isinstance(signature, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise TamperedMetadata("not canishare's metadata") from None
        if not hmac.compare_digest(signature, self._mac(payload, user)):
            raise TamperedMetadata("the signature does not match")
        data = json.loads(payload)
        if not isinstance(data, dict):
            raise TamperedMetadata("not an object")
        return data
