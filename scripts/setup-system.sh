#!/usr/bin/env bash
# Debian packages the toolkit's tests need: an X server with Mesa software OpenGL for napari (Xvfb),
# the Qt 6 xcb platform libraries, dicom3tools (dciodvfy) to validate the DICOM objects we write, and
# chromium to open the longitudinal HTML report headless.
# Skipped when everything is present or when there is no apt-get (then GUI/dciodvfy/browser tests skip).
set -euo pipefail
PKGS=(xvfb xauth libgl1 libegl1 libgl1-mesa-dri libglib2.0-0 libfontconfig1 libdbus-1-3
      libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
      libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 dicom3tools chromium)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
    echo "setup-system: apt-get not found; missing: ${missing[*]} (GUI and dciodvfy tests will skip)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
