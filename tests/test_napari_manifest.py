"""The npe2 manifest is valid and every command it names can be imported."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

npe2 = pytest.importorskip("npe2", reason="npe2 is not installed")

MANIFEST = Path(__file__).resolve().parent.parent / "plugins" / "onfh_napari" / "napari.yaml"


def test_manifest_commands_resolve():
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "onfh-imaging"
    ids = {c.id for c in manifest.contributions.commands}
    assert {r.command for r in manifest.contributions.readers} <= ids
    assert {w.command for w in manifest.contributions.widgets} <= ids
    assert {s.command for s in manifest.contributions.sample_data} <= ids
    for command in manifest.contributions.commands:
        module, _, attr = command.python_name.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), command.python_name
    assert manifest.contributions.readers[0].accepts_directories


def test_npe2_validate_installed_plugin():
    from importlib.metadata import entry_points

    if not any(ep.name == "onfh-imaging" for ep in entry_points(group="napari.manifest")):
        pytest.skip("onfh-imaging is not installed with its napari.manifest entry point (pip install -e .)")
    exe = shutil.which("npe2", path=str(Path(sys.executable).parent)) or "npe2"
    done = subprocess.run([exe, "validate", "onfh-imaging", "--imports"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout
