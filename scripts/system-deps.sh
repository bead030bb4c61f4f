#!/usr/bin/env bash
# Installs the Debian packages that the browser and LibreOffice tests need, if missing.
# Playwright's own browser download does not work here; tests drive /usr/bin/chromium.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "Please install: ${need[*]} (Debian packages), or run as root." >&2; exit 1; fi
else SUDO=""; fi
echo "Installing ${need[*]} ..."
# Another install may hold the package lock for a while: wait for it rather than fail.
wait_lock=(-o DPkg::Lock::Timeout=900)
$SUDO apt-get "${wait_lock[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${wait_lock[@]}" install -y -qq \
  --no-install-recommends "${need[@]}" >/dev/null
