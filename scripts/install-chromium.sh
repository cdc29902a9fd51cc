#!/usr/bin/env bash
# Installs Debian's Chromium for the HTML report's browser test
# (scenarios/cmd/chaos TestHTMLReportInABrowser). Does nothing when a
# chromium is already on PATH. Quiet on success.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q chromium >/tmp/install-chromium.log 2>&1; then
  $sudo apt-get update -q >>/tmp/install-chromium.log 2>&1
  $sudo apt-get install -y -q chromium >>/tmp/install-chromium.log 2>&1 || { cat /tmp/install-chromium.log; exit 1; }
fi
command -v chromium >/dev/null
