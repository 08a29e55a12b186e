#!/usr/bin/env bash
# Checks for the Debian -dev libraries he-tool builds against (and nginx, which the remote-
# evaluation tests put in front of two servers) and installs the missing ones with apt-get
# when running as root; otherwise prints the exact command to run.
set -euo pipefail

packages=(libgmp-dev libpng-dev zlib1g-dev pkg-config nginx)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: missing ${missing[*]} and no apt-get here; install the development files of GMP (libgmp), libpng and zlib, pkg-config, and nginx (for the tests), with your package manager." >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
else
  echo "bootstrap: he-tool needs ${missing[*]}. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
