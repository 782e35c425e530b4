#!/usr/bin/env bash
# Installs the browser the web page's tests drive (tests/e2e/test_web_page.py): Debian's
# Chromium at /usr/bin/chromium. Playwright itself comes from tests/requirements.txt (pip, in
# localstack/host/install.sh) and never downloads a browser of its own.
#   scripts/install-browser.sh
# Idempotent: does nothing when /usr/bin/chromium is there already. fonts-ipafont-gothic (3.5 MB)
# lets the Japanese page render (and its screenshots show) real glyphs rather than boxes.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) is installed"
  exit 0
fi

SUDO=()
[[ "$(id -u)" == 0 ]] || SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
echo "install-browser: installing Debian's chromium (apt-get)"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  chromium fonts-ipafont-gothic >/dev/null
/usr/bin/chromium --version
