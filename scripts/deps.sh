#!/usr/bin/env bash
# deps.sh: install the Debian packages the tests and the demo need
# (SoftHSM2, OpenSC, OpenSSL, gcc, p11-kit remoting, the TPM 2.0 stack,
# opencryptoki, jq), when they are missing. Needs root for apt-get;
# without root it says what to install and fails.
set -euo pipefail

missing=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null || missing+=(opensc)
command -v openssl >/dev/null || missing+=(openssl)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v p11-kit >/dev/null || missing+=(p11-kit)
[ -e /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so ] || [ -e "/usr/lib/$(uname -m)-linux-gnu/pkcs11/p11-kit-client.so" ] || missing+=(p11-kit-modules)
command -v jq >/dev/null || missing+=(jq)
# a JUnit consumer for the bulk verify report's test
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import junitparser' 2>/dev/null || missing+=(python3-junitparser)
# TPM 2.0: a software TPM behind the resource manager on a private D-Bus, tpm2-pkcs11
command -v swtpm >/dev/null || missing+=(swtpm)
command -v dbus-daemon >/dev/null || missing+=(dbus)
command -v tpm2-abrmd >/dev/null || missing+=(tpm2-abrmd)
ls /usr/lib/*/libtss2-tcti-tabrmd.so.0 >/dev/null 2>&1 || missing+=(libtss2-tcti-tabrmd0)
command -v tpm2_getcap >/dev/null || missing+=(tpm2-tools)
command -v tpm2_ptool >/dev/null || missing+=(libtpm2-pkcs11-tools)
ls /usr/lib/*/pkcs11/libtpm2_pkcs11.so >/dev/null 2>&1 || missing+=(libtpm2-pkcs11-1)
# opencryptoki's soft token and its slot daemon
command -v pkcsslotd >/dev/null || missing+=(opencryptoki)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}; run: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
