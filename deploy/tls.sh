#!/bin/sh
# Make the TLS pair of trustpolicy serve, and the Provider that trusts it.
#
#   deploy/tls.sh OUT [SAN...]
#
# writes, in the new folder OUT (mode 0700):
#   ca.key, ca.crt    a CA (EC P-256, 10 years) that signs only this server
#   tls.key, tls.crt  the server's key and certificate (EC P-256, 1 year),
#                     for trustpolicy.trustpolicy-system and its .svc and
#                     .svc.cluster.local names, plus every SAN given
#                     (DNS:name or IP:address)
#   provider.yaml     deploy/provider.yaml with spec.caBundle filled in
# and prints the kubectl commands that load them. Keep ca.key offline (or
# delete it): it is needed only to issue the next server certificate.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 OUT [DNS:name|IP:address ...]" >&2
	exit 2
fi
out=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
service=trustpolicy
namespace=trustpolicy-system

if [ -e "$out" ]; then
	echo "$0: $out exists; give a new folder" >&2
	exit 2
fi
umask 077
mkdir -p "$out"

sans="DNS:$service.$namespace,DNS:$service.$namespace.svc,DNS:$service.$namespace.svc.cluster.local"
for san in "$@"; do
	case $san in
	DNS:?* | IP:?*) sans="$sans,$san" ;;
	*)
		echo "$0: SAN $san: give DNS:name or IP:address" >&2
		exit 2
		;;
	esac
done

openssl ecparam -name prime256v1 -genkey -noout -out "$out/ca.key.sec1"
openssl pkcs8 -topk8 -nocrypt -in "$out/ca.key.sec1" -out "$out/ca.key"
rm -f "$out/ca.key.sec1"
openssl req -x509 -new -key "$out/ca.key" -sha256 -days 3650 -subj "/CN=trustpolicy serve CA" \
	-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out "$out/ca.crt" 2>/dev/null

openssl ecparam -name prime256v1 -genkey -noout -out "$out/tls.key.sec1"
openssl pkcs8 -topk8 -nocrypt -in "$out/tls.key.sec1" -out "$out/tls.key"
rm -f "$out/tls.key.sec1"
openssl req -new -key "$out/tls.key" -subj "/CN=$service.$namespace.svc" -out "$out/tls.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$sans" >"$out/tls.ext"
openssl x509 -req -in "$out/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
	-sha256 -days 365 -extfile "$out/tls.ext" -out "$out/tls.crt" 2>/dev/null
rm -f "$out/tls.csr" "$out/tls.ext" "$out/ca.srl"
chmod 0644 "$out/ca.crt" "$out/tls.crt"

bundle=$(base64 <"$out/ca.crt" | tr -d '\n')
sed "s|caBundle: CA_BUNDLE|caBundle: $bundle|" "$here/provider.yaml" >"$out/provider.yaml"
chmod 0644 "$out/provider.yaml"

cat <<EOT
wrote $out/{ca.key,ca.crt,tls.key,tls.crt,provider.yaml}
kubectl -n $namespace create secret tls trustpolicy-tls --cert=$out/tls.crt --key=$out/tls.key
kubectl apply -f $out/provider.yaml
EOT
