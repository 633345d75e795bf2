#!/bin/sh
# Install what posthorn needs from Debian: "build" for make/make run,
# "check" for make check.  As root it runs apt-get; otherwise it prints the
# command to run and fails.
set -eu

mode=${1:-build}
build="gcc make pkg-config libevent-dev libssl-dev libsqlite3-dev
       libsodium-dev libinih-dev libidn2-dev libcrypt-dev libunistring-dev
       zlib1g-dev"
check="$build libcmocka-dev python3 python3-pytest swaks libnet-ssleay-perl
       fetchmail curl clang libclang-rt-14-dev procps iproute2 openssl
       fail2ban isync libsasl2-modules mutt"

case $mode in
build) want=$build ;;
check) want=$check ;;
*) echo "usage: $0 build|check" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "posthorn needs these Debian packages:$missing" >&2
	echo "install them with:  sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
