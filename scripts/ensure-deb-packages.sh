#!/usr/bin/env bash
# ensure-deb-packages.sh PKG...
#
# Installs the named Debian packages, but only those that are not installed
# yet. Nothing is touched (and apt is not even updated) when every package is
# already present. Used by `make deps` and `make bench-deps`.
#
#   - uses apt-get non-interactively (DEBIAN_FRONTEND=noninteractive);
#   - runs as root directly, otherwise through sudo if sudo exists;
#   - on a system without dpkg/apt-get it prints what is needed and fails.
#
# Environment:
#   SKIP_DEPS=1   do nothing (for non-Debian machines where the libraries were
#                 installed some other way).
#   DEPS_HINT     extra text printed when the packages cannot be installed.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 PKG..." >&2
	exit 2
fi

if [ "${SKIP_DEPS:-}" = "1" ]; then
	echo "deps: SKIP_DEPS=1, not checking for: $*"
	exit 0
fi

is_installed() {
	# `dpkg -s` alone succeeds for removed packages that left config files
	# behind, so also require the "install ok installed" status.
	command -v dpkg >/dev/null 2>&1 || return 1
	dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

missing=()
for pkg in "$@"; do
	if ! is_installed "$pkg"; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: already installed: $*"
	exit 0
fi

fail() {
	{
		echo "deps: ERROR: $1"
		echo "deps: missing Debian package(s): ${missing[*]}"
		if [ -n "${DEPS_HINT:-}" ]; then
			echo "deps: ${DEPS_HINT}"
		fi
		echo "deps: install them yourself, then re-run (or set SKIP_DEPS=1 if they are installed another way)."
	} >&2
	exit 1
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
	fail "this does not look like a Debian/Ubuntu system (no apt-get/dpkg), cannot install automatically."
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo_cmd=(sudo)
	else
		fail "not running as root and sudo is not available."
	fi
fi

echo "deps: installing missing package(s): ${missing[*]}"
${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
${sudo_cmd[@]+"${sudo_cmd[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"

for pkg in "${missing[@]}"; do
	if ! is_installed "$pkg"; then
		fail "apt-get finished but $pkg is still not installed."
	fi
done
echo "deps: installed: ${missing[*]}"
