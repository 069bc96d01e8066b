#!/usr/bin/env bash
# Makes sure the test machine has Chromium (browser tests) and a Vulkan driver Dawn accepts
# (WebGPU kernel tests in Node). On Debian/Ubuntu as root it installs them; otherwise it says in
# one line what to install. Bookworm's own Mesa 22 lavapipe gives Dawn no adapter: Mesa 25 from
# bookworm-backports does (see ../shared/BROWSER.md).
set -euo pipefail
need_chromium=0; need_mesa=0
[ -x /usr/bin/chromium ] || need_chromium=1
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_mesa=1
if [ "$need_mesa" = 0 ] && command -v dpkg-query >/dev/null; then
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
  dpkg --compare-versions "$v" ge 24 || need_mesa=1
fi
[ "$need_chromium$need_mesa" = 00 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing: $([ $need_chromium = 1 ] && echo 'chromium (/usr/bin/chromium) ')$([ $need_mesa = 1 ] && echo 'mesa-vulkan-drivers >= 24 (lavapipe)'): install them (Debian: apt-get install chromium; mesa-vulkan-drivers from bookworm-backports)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ "$need_mesa" = 1 ] && grep -q bookworm /etc/os-release 2>/dev/null && [ ! -f /etc/apt/sources.list.d/backports.sources ]; then
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > /etc/apt/sources.list.d/backports.sources
fi
apt-get update -qq
[ "$need_chromium" = 1 ] && apt-get install -y -qq chromium >/dev/null
if [ "$need_mesa" = 1 ]; then
  if grep -q bookworm /etc/os-release 2>/dev/null; then apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  else apt-get install -y -qq mesa-vulkan-drivers >/dev/null; fi
fi
apt-get install -y -qq iproute2 >/dev/null 2>&1 || true
echo "installed test dependencies (chromium, mesa lavapipe)"
