"""The Teams app package: the zip an admin uploads validates against Microsoft's v1.25 schema."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import jsonschema
import pytest

from bot.channels.teams.package import PackageError, manifest_for, package_bytes
from tests.conftest import ROOT
from tests.fakes.teams_service import CLIENT_ID

SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "teams" / "MicrosoftTeams.v1.25.schema.json").read_text())


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_package_manifest_validates_against_microsofts_schema():
    archive = zipfile.ZipFile(io.BytesIO(package_bytes(CLIENT_ID)))
    assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
    manifest = json.loads(archive.read("manifest.json"))
    jsonschema.Draft4Validator(SCHEMA).validate(manifest)
    # draft-04 ignores `const`; check the version the schema pins by hand
    assert manifest["manifestVersion"] == SCHEMA["properties"]["manifestVersion"]["const"] == "1.25"


def test_the_bot_id_is_filled_in_everywhere():
    manifest = manifest_for(CLIENT_ID)
    assert manifest["id"] == CLIENT_ID and [b["botId"] for b in manifest["bots"]] == [CLIENT_ID]
    assert "00000000-0000-0000-0000-000000000000" not in json.dumps(manifest)


def test_personal_and_team_scopes_with_the_four_commands():
    [bot] = manifest_for(CLIENT_ID)["bots"]
    assert bot["scopes"] == ["personal", "team"]
    for command_list in bot["commandLists"]:
        assert sorted(c["title"] for c in command_list["commands"]) == ["export", "help", "log", "start"]


def test_the_icons_have_the_sizes_teams_requires():
    archive = zipfile.ZipFile(io.BytesIO(package_bytes(CLIENT_ID)))
    assert png_size(archive.read("color.png")) == (192, 192)
    assert png_size(archive.read("outline.png")) == (32, 32)


def test_the_outline_icon_is_white_on_transparency():
    import zlib

    data = (ROOT / "teams" / "outline.png").read_bytes()
    width, height = png_size(data)
    assert data[24:26] == b"\x08\x06"  # 8-bit RGBA
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    stride = width * 4 + 1
    pixels = {tuple(raw[r * stride + 1 + c * 4: r * stride + 5 + c * 4]) for r in range(height) for c in range(width)}
    assert pixels == {(255, 255, 255, 255), (0, 0, 0, 0)}


@pytest.mark.parametrize("bad", ["", "canishare", "00000000-0000-0000-0000-000000000000"])
def test_a_wrong_bot_id_is_refused(bad):
    with pytest.raises(PackageError):
        manifest_for(bad)


def test_the_cli_writes_the_zip(run_cli, tmp_path: Path):
    out = tmp_path / "app.zip"
    result = run_cli("teams", "package", "--out", str(out), env={"TEAMS_CLIENT_ID": CLIENT_ID})
    assert result.returncode == 0, result.stderr
    assert json.loads(zipfile.ZipFile(out).read("manifest.json"))["bots"][0]["botId"] == CLIENT_ID


def test_the_cli_names_a_missing_bot_id(run_cli):
    result = run_cli("teams", "package", env={"TEAMS_CLIENT_ID": ""})
    assert result.returncode == 2
    assert result.stderr.startswith("canishare: settings: TEAMS_CLIENT_ID not set")


def test_the_package_carries_the_project_version_and_the_organisations_links(run_cli, tmp_path: Path):
    from importlib.metadata import version

    out = tmp_path / "app.zip"
    result = run_cli("teams", "package", "--out", str(out), "--privacy-url", "https://school.example/privacy",
                     "--terms-url", "https://school.example/terms", env={"TEAMS_CLIENT_ID": CLIENT_ID})
    assert result.returncode == 0 and "you must" not in result.stderr
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert manifest["version"] == version("canishare")
    assert manifest["developer"]["privacyUrl"] == "https://school.example/privacy"
    assert manifest["developer"]["termsOfUseUrl"] == "https://school.example/terms"
    jsonschema.Draft4Validator(SCHEMA).validate(manifest)
    without = run_cli("teams", "package", "--out", str(out), env={"TEAMS_CLIENT_ID": CLIENT_ID})
    assert without.returncode == 0 and "you must give your organisation's privacy notice" in without.stderr
    bad = run_cli("teams", "package", "--privacy-url", "http://x", env={"TEAMS_CLIENT_ID": CLIENT_ID})
    assert bad.returncode == 2 and "--privacy-url: must be an https:// address" in bad.stderr
