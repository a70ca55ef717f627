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


# The shipped developer links point at the national guidance, not at any organisation's own
# privacy notice and terms: each organisation must give its own (`teams package --privacy-url`).
LINKS = {"website": "websiteUrl", "privacy": "privacyUrl", "terms": "termsOfUseUrl"}


def project_version() -> str:
    """canishare's version (pyproject.toml): the package's version, so raising it ships an update
    Teams accepts (it refuses an upload whose version is not higher than the installed one)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("canishare")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.1.0"


def manifest_for(bot_id: str, source: Path = PACKAGE_DIR / "manifest.json",
                 links: dict[str, str] | None = None) -> dict[str, Any]:
    """The manifest with `bot_id` (the Entra app's client id) as both the app id and the bot id,
    the project's version, and the organisation's own `links` (website, privacy, terms)."""
    if not GUID.match(bot_id) or bot_id == PLACEHOLDER_ID:
        raise PackageError(f"bot id {bot_id!r} is not an Entra Application (client) ID")
    manifest = json.loads(source.read_text(encoding="utf-8"))
    manifest["id"] = bot_id
    manifest["version"] = project_version()
    for name, url in (links or {}).items():
        if not url.startswith("https://"):
            raise PackageError(f"--{name}-url: must be an https:// address")
        manifest["developer"][LINKS[name]] = url
    for bot in manifest["bots"]:
        bot["botId"] = bot_id
    return manifest


def package_bytes(bot_id: str, source_dir: Path = PACKAGE_DIR, links: dict[str, str] | None = None) -> bytes:
    manifest = manifest_for(bot_id, source_dir / "manifest.json", links)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for icon in (manifest["icons"]["color"], manifest["icons"]["outline"]):
            archive.write(source_dir / icon, icon)
    return buffer.getvalue()


def write_package(bot_id: str, out: Path, links: dict[str, str] | None = None) -> Path:
    """Write the zip an admin uploads in the Teams admin centre."""
    out.write_bytes(package_bytes(bot_id, links=links))
    return out
