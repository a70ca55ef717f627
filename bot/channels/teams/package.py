"""The Teams app package: `teams/manifest.json` with the bot id filled in, plus the two icons,
zipped flat (Teams wants the three files at the root of the zip)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from bot.channels.teams.config import GUID

PACKAGE_DIR = Path(__file__).resolve().parents[3] / "teams"
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


class PackageError(ValueError):
    """The bot id is missing or not a GUID."""


def manifest_for(bot_id: str, source: Path = PACKAGE_DIR / "manifest.json") -> dict[str, Any]:
    """The manifest with `bot_id` (the Entra app's client id) as both the app id and the bot id."""
    if not GUID.match(bot_id) or bot_id == PLACEHOLDER_ID:
        raise PackageError(f"bot id {bot_id!r} is not an Entra Application (client) ID")
    manifest = json.loads(source.read_text(encoding="utf-8"))
    manifest["id"] = bot_id
    for bot in manifest["bots"]:
        bot["botId"] = bot_id
    return manifest


def package_bytes(bot_id: str, source_dir: Path = PACKAGE_DIR) -> bytes:
    manifest = manifest_for(bot_id, source_dir / "manifest.json")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for icon in (manifest["icons"]["color"], manifest["icons"]["outline"]):
            archive.write(source_dir / icon, icon)
    return buffer.getvalue()


def write_package(bot_id: str, out: Path) -> Path:
    """Write the zip an admin uploads in the Teams admin centre."""
    out.write_bytes(package_bytes(bot_id))
    return out
