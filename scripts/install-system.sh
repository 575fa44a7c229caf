#!/usr/bin/env bash
# Installs the Debian packages the platform needs when they are missing.
set -euo pipefail

# chromium: the browser the map site's tests drive (Playwright, never its own downloads).
# wrk: the HTTP load generator of bench/tiles.py (C; the Python client cannot load a cached tile server).
packages=(postgresql-15-postgis-3 postgresql-15-pgrouting fonts-noto-cjk chromium wrk)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them as root, then run make again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
