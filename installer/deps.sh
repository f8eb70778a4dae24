#!/usr/bin/env bash
# Installs what building and testing Berth needs on Debian 12, and nothing that is already there.
# Usage: installer/deps.sh [extra-package ...]
set -euo pipefail
packages=(cmake ninja-build g++ qt6-base-dev qt6-base-dev-tools ccache "$@")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
