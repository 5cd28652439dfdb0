#!/usr/bin/env bash
# make-pki.sh DIR [--force] — a throwaway test PKI for authd, made with the openssl command only.
#
# Everything is PEM. Keys are ECDSA P-256 and signatures SHA-256 unless noted. Nothing here has
# any value, but private keys (*.key) are unencrypted and mode 0600, as a real deployment keeps
# them: authd refuses a tls.private_key others can read. Everything else is world-readable.
# Never commit the output.
#
#   root-ca.pem / .key       "authd Test Root CA" (self-signed, 10 years)
#   issuing-ca.pem / .key    "authd Test Device CA", signed by the root; issues devices and server
#   ca-bundle.pem            root + intermediate (what authd trusts by default)
#   root-only.pem            just the root (authd `ca` when devices send their intermediate;
#                            also the supplicant's ca_cert for the server)
#   server.pem / .key        CN authd.test, SAN DNS:authd.test, EKU serverAuth; server.pem is the
#                            leaf followed by the intermediate
#   rogue-ca.pem / .key      "authd Rogue CA", an untrusted root
#   ldap-server.pem / .key   CN localhost, SAN DNS:localhost + IP:127.0.0.1, EKU serverAuth,
#                            for the test directory (slapd) on loopback; leaf + intermediate
#
# Device certificates: NAME.pem (leaf only), NAME-chain.pem (leaf + its issuer), NAME.key.
#   laptop      valid 1 year, EKU clientAuth, CN + SAN DNS laptop-0001.corp.example
#   printer     valid 1 year, EKU clientAuth, CN printer-0042.corp.example (no SAN)
#   expired     clientAuth, notBefore 2 years ago, notAfter yesterday
#   future      clientAuth, notBefore a year ahead
#   rogue       clientAuth, issued by rogue-ca (chain = leaf + rogue-ca)
#   selfsigned  clientAuth, self-signed (chain = the leaf alone)
#   noeku       valid, no extendedKeyUsage extension at all
#   sha1        valid, clientAuth, signed with ecdsa-with-SHA1
#   weakkey     valid, clientAuth, RSA 1024 key
#   kiosk       valid, clientAuth, CN kiosk-0007.corp.example (no SAN): in the directory, no group
#   revoked     valid, clientAuth, CN + SAN revoked-0001.corp.example, listed in issuing-ca.crl.pem
#   inj-star, inj-or, inj-suffix, inj-backslash
#               valid, clientAuth, no SAN, CNs made to widen an LDAP filter if it were not
#               escaped: "*", "*)(cn=*", "laptop-0001.corp.example)(cn=*" and
#               "laptop-0001.corp.example\"
#   inj-exact   valid, clientAuth, no SAN, CN "weird*(device)": the test directory holds exactly
#               this name, so an escaped filter must find it (and only it)
#   stranger    valid, clientAuth, CN + SAN stranger-0001.corp.example: a sound certificate of a
#               device that is in neither the test directory nor any static group map
#   in5days, in60days
#               valid, clientAuth, expiring 5 and 60 days after they were made: the expiry
#               horizon of the metrics (the PKI is made again when in5days has a day left)
# Device CNs other than laptop/printer are NAME-0001.corp.example, with a matching SAN.
#
# CRLs of the Device CA (PEM): issuing-ca.crl.pem revokes `revoked` (next update in 30 days);
# issuing-ca-empty.crl.pem revokes nothing; issuing-ca-expired.crl.pem revokes `revoked` too but
# its nextUpdate was yesterday. rogue-ca.crl.pem is signed by the untrusted rogue CA.
# CRLs of the Root CA: root-ca.crl.pem revokes nothing; root-ca-revokes-device-ca.crl.pem revokes
# the Device CA (cACompromise), for checks of intermediates.
#
# OCSP (RFC 6960) for the Device CA:
#   ocsp-responder.pem / .key  CN "authd Test OCSP Responder", issued by the Device CA, EKU
#                            OCSPSigning, id-pkix-ocsp-nocheck: a delegated responder (leaf only)
#   issuing-ca.index         the Device CA's `openssl ca` database: `revoked` is revoked
#                            (keyCompromise), every other certificate it issued (devices, server,
#                            ldap-server, ocsp-responder) is valid. A responder for it:
#                              openssl ocsp -port N -index issuing-ca.index -CA issuing-ca.pem \
#                                -rsigner ocsp-responder.pem -rkey ocsp-responder.key
#                            (tests/ocsp/ocsp_responder.sh does this). Certificates of other
#                            issuers (rogue, selfsigned) are not in it: the answer is "unknown".
#
# Idempotent: if DIR already holds a complete PKI made by this exact script and the laptop and
# in5days certificates are still valid for a day, nothing is done. --force regenerates. Files are
# built in a temporary directory and moved into DIR at the end, so a failed run leaves
# nothing half-written behind.
set -euo pipefail

WORK=""
DEVICES=(laptop printer expired future rogue selfsigned noeku sha1 weakkey kiosk
	inj-star inj-or inj-suffix inj-backslash revoked stranger inj-exact in5days in60days)
STAMP=.make-pki.stamp

die() { printf 'make-pki.sh: %s\n' "$*" >&2; exit 1; }

# run WHAT COMMAND...: quiet on success; on failure print openssl's messages and stop.
run() {
	local what=$1 out
	shift
	out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; die "failed: $what"; }
}

usage() { die "usage: make-pki.sh DIR [--force]"; }

# Date in the form `openssl ca -startdate/-enddate` accepts (GeneralizedTime, UTC).
ca_date() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

expected_files() {
	echo root-ca.pem root-ca.key issuing-ca.pem issuing-ca.key ca-bundle.pem root-only.pem
	echo server.pem server.key rogue-ca.pem rogue-ca.key ldap-server.pem ldap-server.key
	echo issuing-ca.crl.pem issuing-ca-empty.crl.pem issuing-ca-expired.crl.pem rogue-ca.crl.pem
	echo root-ca.crl.pem root-ca-revokes-device-ca.crl.pem
	echo ocsp-responder.pem ocsp-responder.key issuing-ca.index
	local d
	for d in "${DEVICES[@]}"; do echo "$d.pem" "$d-chain.pem" "$d.key"; done
}

script_hash() { sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1; }

is_current() {
	local dir=$1 f
	[[ -f $dir/$STAMP && $(cat "$dir/$STAMP") == "$(script_hash)" ]] || return 1
	for f in $(expected_files); do [[ -s $dir/$f ]] || return 1; done
	openssl x509 -in "$dir/laptop.pem" -noout -checkend 86400 >/dev/null &&
		openssl x509 -in "$dir/in5days.pem" -noout -checkend 86400 >/dev/null
}

new_ec_key() { run "key $1" openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# ca.cnf for `openssl ca`: one database per issuer, random serials, one section per profile.
write_ca_config() {
	local dir=$1
	cat >"$dir/ca.cnf" <<'EOF'
# ISSUER and SAN_DNS come from the environment (always exported by this script).
[ ca ]
default_ca = issuer

[ issuer ]
dir              = .
database         = $dir/$ENV::ISSUER.index
new_certs_dir    = $dir/newcerts
serial           = $dir/$ENV::ISSUER.serial
certificate      = $dir/$ENV::ISSUER.pem
private_key      = $dir/$ENV::ISSUER.key
default_md       = sha256
default_days     = 365
policy           = policy_any
unique_subject   = no
copy_extensions  = none
email_in_dn      = no

[ policy_any ]
commonName             = supplied
organizationName       = optional
organizationalUnitName = optional

[ root_ca ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ issuing_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ server ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:authd.test
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ ldap_server ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ ocsp_responder ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = OCSPSigning
noCheck                = ignored
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ device ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectAltName         = DNS:$ENV::SAN_DNS
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ device_nosan ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ device_rsa ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = clientAuth
subjectAltName         = DNS:$ENV::SAN_DNS
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ device_noeku ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
subjectAltName         = DNS:$ENV::SAN_DNS
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ req ]
distinguished_name = req_dn
prompt             = no
[ req_dn ]
CN = unused
EOF
	mkdir -p "$dir/newcerts"
}

# self_signed NAME SUBJECT EXT_SECTION DAYS: NAME.key + NAME.pem
self_signed() {
	local name=$1 subject=$2 section=$3 days=$4
	new_ec_key "$name.key"
	run "self-signed $name" openssl req -config ca.cnf -new -x509 -key "$name.key" \
		-subj "$subject" -days "$days" -sha256 -extensions "$section" -out "$name.pem"
}

# issue ISSUER NAME SUBJECT EXT_SECTION [openssl ca options...]: NAME.pem signed by ISSUER.
# The key NAME.key must exist.
issue() {
	local issuer=$1 name=$2 subject=$3 section=$4
	shift 4
	touch "$issuer.index"
	run "request $name" openssl req -config ca.cnf -new -key "$name.key" -subj "$subject" -out "$name.csr"
	ISSUER=$issuer run "issue $name" openssl ca -config ca.cnf -batch -notext -preserveDN \
		-rand_serial -extensions "$section" -in "$name.csr" -out "$name.pem" "$@"
	rm -f "$name.csr"
}

# device NAME CN EXT_SECTION KEYTYPE ISSUER [openssl ca options...]
device() {
	local name=$1 cn=$2 section=$3 keytype=$4 issuer=$5
	shift 5
	case $keytype in
	ec) new_ec_key "$name.key" ;;
	rsa1024) run "key $name" openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$name.key" ;;
	*) die "unknown key type $keytype" ;;
	esac
	SAN_DNS=$cn issue "$issuer" "$name" "/CN=$cn" "$section" "$@"
	cat "$name.pem" "$issuer.pem" >"$name-chain.pem"
}

# crl ISSUER FILE [openssl ca options...]: ISSUER's CRL from its database.
crl() {
	local issuer=$1 file=$2
	shift 2
	touch "$issuer.index"
	ISSUER=$issuer run "CRL $file" openssl ca -config ca.cnf -batch -gencrl -out "$file" "$@"
}

generate() {
	local dir=$1
	write_ca_config "$dir"
	(
		cd "$dir"
		export ISSUER=unused SAN_DNS=unused
		self_signed root-ca "/O=authd test/CN=authd Test Root CA" root_ca 3650
		new_ec_key issuing-ca.key
		issue root-ca issuing-ca "/O=authd test/CN=authd Test Device CA" issuing_ca -days 3650
		cat root-ca.pem issuing-ca.pem >ca-bundle.pem
		cp root-ca.pem root-only.pem

		new_ec_key server.key
		issue issuing-ca server "/CN=authd.test" server -days 365
		cat issuing-ca.pem >>server.pem

		new_ec_key ldap-server.key
		issue issuing-ca ldap-server "/CN=localhost" ldap_server -days 365
		cat issuing-ca.pem >>ldap-server.pem

		new_ec_key ocsp-responder.key
		issue issuing-ca ocsp-responder "/CN=authd Test OCSP Responder" ocsp_responder -days 365

		self_signed rogue-ca "/O=rogue/CN=authd Rogue CA" root_ca 3650

		local now_minus_2y yesterday next_year in_2y
		now_minus_2y=$(ca_date '2 years ago')
		yesterday=$(ca_date '1 day ago')
		next_year=$(ca_date '1 year')
		in_2y=$(ca_date '2 years')

		device laptop laptop-0001.corp.example device ec issuing-ca -days 365
		device printer printer-0042.corp.example device_nosan ec issuing-ca -days 365
		device expired expired-0001.corp.example device ec issuing-ca \
			-startdate "$now_minus_2y" -enddate "$yesterday"
		device future future-0001.corp.example device ec issuing-ca \
			-startdate "$next_year" -enddate "$in_2y"
		device rogue rogue-0001.corp.example device ec rogue-ca -days 365
		device noeku noeku-0001.corp.example device_noeku ec issuing-ca -days 365
		device sha1 sha1-0001.corp.example device ec issuing-ca -days 365 -md sha1
		device weakkey weakkey-0001.corp.example device_rsa rsa1024 issuing-ca -days 365
		device kiosk kiosk-0007.corp.example device_nosan ec issuing-ca -days 365
		device inj-star '*' device_nosan ec issuing-ca -days 365
		device inj-or '*)(cn=*' device_nosan ec issuing-ca -days 365
		device inj-suffix 'laptop-0001.corp.example)(cn=*' device_nosan ec issuing-ca -days 365
		# -subj takes backslash as an escape: two make one.
		# shellcheck disable=SC1003 # no quote is being escaped here
		device inj-backslash 'laptop-0001.corp.example\\' device_nosan ec issuing-ca -days 365
		device revoked revoked-0001.corp.example device ec issuing-ca -days 365
		device stranger stranger-0001.corp.example device ec issuing-ca -days 365
		device inj-exact 'weird*(device)' device_nosan ec issuing-ca -days 365
		device in5days in5days-0001.corp.example device ec issuing-ca -enddate "$(ca_date '5 days')"
		device in60days in60days-0001.corp.example device ec issuing-ca -enddate "$(ca_date '60 days')"

		crl issuing-ca issuing-ca-empty.crl.pem -crldays 30
		ISSUER=issuing-ca run "revoke" openssl ca -config ca.cnf -batch -revoke revoked.pem \
			-crl_reason keyCompromise
		crl issuing-ca issuing-ca.crl.pem -crldays 30
		crl issuing-ca issuing-ca-expired.crl.pem -crl_lastupdate "$(ca_date '3 days ago')" \
			-crl_nextupdate "$yesterday"
		crl rogue-ca rogue-ca.crl.pem -crldays 30
		crl root-ca root-ca.crl.pem -crldays 30
		ISSUER=root-ca run "revoke the Device CA" openssl ca -config ca.cnf -batch -revoke issuing-ca.pem \
			-crl_reason CACompromise
		crl root-ca root-ca-revokes-device-ca.crl.pem -crldays 30

		SAN_DNS=selfsigned-0001.corp.example \
			self_signed selfsigned "/CN=selfsigned-0001.corp.example" device 365
		cp selfsigned.pem selfsigned-chain.pem
	)
}

main() {
	local dir="" force=0 arg
	for arg in "$@"; do
		case $arg in
		--force) force=1 ;;
		-*) usage ;;
		*) [[ -z $dir ]] || usage; dir=$arg ;;
		esac
	done
	[[ -n $dir ]] || usage
	command -v openssl >/dev/null || die "the openssl command is needed (Debian package openssl)"

	mkdir -p "$dir"
	if ((force == 0)) && is_current "$dir"; then
		exit 0
	fi

	WORK=$(mktemp -d "$dir/.make-pki.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	local work=$WORK
	generate "$work"

	local f
	for f in $(expected_files); do
		if [[ $f == *.key ]]; then chmod 0600 "$work/$f"; else chmod 0644 "$work/$f"; fi
		mv -f "$work/$f" "$dir/$f"
	done
	chmod 0755 "$dir"
	script_hash >"$dir/$STAMP"
	chmod 0644 "$dir/$STAMP"
}

main "$@"
