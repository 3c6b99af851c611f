#!/usr/bin/env bash
# Installs what berth's tests need, from Debian's packages, when missing.
# As root it installs; otherwise it says loudly what the tests will skip.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have runc            || need+=(runc)
have dockerd         || need+=(docker.io)
have docker-registry || need+=(docker-registry)
have skopeo          || need+=(skopeo)
have podman          || need+=(podman)   # berth push, then podman pull
have rpm             || need+=(rpm)      # the reference rpmdb reader and vercmp for sbom and vuln tests
# ldd exits 1 on a static binary, which pipefail would count against the grep.
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && { ldd /bin/busybox 2>&1 || true; } | grep -q "not a dynamic" || need+=(busybox-static)
have chromium        || need+=(chromium)
have node            || need+=(nodejs)
have npm             || need+=(npm)
have wrk             || need+=(wrk)
have ip              || need+=(iproute2)
have curl            || need+=(curl)
have bc              || need+=(bc)

if [ ${#need[@]} -eq 0 ]; then
	echo "deps: everything the tests need is installed"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: NOT ROOT: cannot install ${need[*]}; tests that need them will SKIP and say why" >&2
	exit 0
fi
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
