/*
 * radius_probe PORT SECRET CHECK — speaks raw RADIUS over UDP to an authd on
 * 127.0.0.1:PORT and asserts what a NAS (or an attacker) would see.
 *
 * Packets are built byte by byte and Message-Authenticator / Response
 * Authenticator are computed here with OpenSSL, independently of the RADIUS
 * library authd uses, so a shared misunderstanding cannot hide a bug.
 *
 * CHECK is one of:
 *   no-message-authenticator     Access-Request with EAP-Message but no Message-Authenticator
 *                                gets no reply (BlastRADIUS, CVE-2024-3596); a valid one then does.
 *   wrong-message-authenticator  Message-Authenticator made with another secret: no reply;
 *                                a valid one then does.
 *   challenge                    EAP-Response/Identity gets an Access-Challenge with
 *                                Message-Authenticator first, State, and EAP-TLS Start.
 *   retransmit                   the same request bytes again from the same port get a
 *                                byte-identical reply.
 *   status-server                Status-Server with Message-Authenticator gets Access-Accept
 *                                with Message-Authenticator first.
 *   status-server-no-message-authenticator
 *                                Status-Server without it gets no reply (RFC 5997 3);
 *                                a valid one then does.
 *   silent                       a valid Access-Request and a Status-Server get no reply
 *                                (authd was started without this address as a client).
 *   refused-attributes           signed EAP Access-Requests that also carry Tunnel-Password,
 *                                MS-MPPE-Recv-Key or User-Password get no reply (authd decodes
 *                                none of them); a valid one then does.
 *   tunnel-password-flood        25,000 signed requests with 180 Tunnel-Password attributes
 *                                each, paced by Status-Server: no reply to any; authd then
 *                                still answers.
 *   tunnel-password-flood-unsigned
 *                                the same without Message-Authenticator, to a client that does
 *                                not require it (anyone can send these).
 *   user-password                a signed PAP Access-Request (User-Password, no EAP) gets an
 *                                Access-Reject, signed, as a NAS doing MAC Authentication Bypass
 *                                expects of a server that serves EAP only.
 * Exit status 0 when every assertion held, 1 otherwise (each failure says expected / seen).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

enum {
	CODE_ACCESS_REQUEST = 1,
	CODE_ACCESS_ACCEPT = 2,
	CODE_ACCESS_REJECT = 3,
	CODE_ACCESS_CHALLENGE = 11,
	CODE_STATUS_SERVER = 12,

	ATTR_USER_NAME = 1,
	ATTR_USER_PASSWORD = 2,
	ATTR_NAS_IP_ADDRESS = 4,
	ATTR_FRAMED_MTU = 12,
	ATTR_STATE = 24,
	ATTR_VENDOR_SPECIFIC = 26,
	ATTR_CALLING_STATION_ID = 31,
	ATTR_NAS_PORT_TYPE = 61,
	ATTR_TUNNEL_PASSWORD = 69,
	ATTR_EAP_MESSAGE = 79,
	ATTR_MESSAGE_AUTHENTICATOR = 80,

	EAP_CODE_REQUEST = 1,
	EAP_CODE_RESPONSE = 2,
	EAP_TYPE_IDENTITY = 1,
	EAP_TYPE_TLS = 13,
	EAP_TLS_FLAG_START = 0x20,

	RADIUS_HEADER = 20,
	RADIUS_MAX = 4096,
	AUTH_LEN = 16,
};

#define NO_REPLY_WAIT_MS 1000
#define REPLY_WAIT_MS    5000

struct packet {
	uint8_t data[RADIUS_MAX];
	size_t len;
};

static int failures;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records one assertion: "ok: ..." or "FAIL: ..." with what was expected and seen. */
static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	/* One stream, so that the ok and FAIL lines stay in order in the test log. */
	fputs(ok ? "ok: " : "FAIL: ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	if (!ok)
		failures++;
}

static void die(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put_header(struct packet *p, uint8_t code, uint8_t id)
{
	p->data[0] = code;
	p->data[1] = id;
	p->len = RADIUS_HEADER;
	if (RAND_bytes(p->data + 4, AUTH_LEN) != 1) {
		fprintf(stderr, "FAIL: RAND_bytes\n");
		exit(1);
	}
}

static void put_attr(struct packet *p, uint8_t type, const void *value, size_t len)
{
	if (len > 253 || p->len + 2 + len > sizeof(p->data)) {
		fprintf(stderr, "FAIL: attribute %u does not fit\n", type);
		exit(1);
	}
	p->data[p->len] = type;
	p->data[p->len + 1] = (uint8_t)(2 + len);
	memcpy(p->data + p->len + 2, value, len);
	p->len += 2 + len;
}

static void put_u32(struct packet *p, uint8_t type, uint32_t v)
{
	uint32_t be = htonl(v);

	put_attr(p, type, &be, sizeof(be));
}

static void set_length(struct packet *p)
{
	p->data[2] = (uint8_t)(p->len >> 8);
	p->data[3] = (uint8_t)p->len;
}

static void hmac_md5(const char *secret, const uint8_t *data, size_t len, uint8_t out[16])
{
	unsigned int outlen = 16;

	if (HMAC(EVP_md5(), secret, (int)strlen(secret), data, len, out, &outlen) == NULL) {
		fprintf(stderr, "FAIL: HMAC-MD5\n");
		exit(1);
	}
}

/*
 * Appends Message-Authenticator computed with `secret` (RFC 3579 3.2):
 * HMAC-MD5 over the whole packet with the attribute's value zeroed.
 */
static void put_message_authenticator(struct packet *p, const char *secret)
{
	static const uint8_t zero[16];
	size_t at = p->len + 2;

	put_attr(p, ATTR_MESSAGE_AUTHENTICATOR, zero, sizeof(zero));
	set_length(p);
	hmac_md5(secret, p->data, p->len, p->data + at);
}

enum ma_mode { MA_NONE, MA_VALID, MA_WRONG_SECRET };

/* Adds Message-Authenticator as ma says and sets the Length field: the last step of a request. */
static void finish_request(struct packet *p, const char *secret, enum ma_mode ma)
{
	switch (ma) {
	case MA_NONE:
		set_length(p);
		break;
	case MA_VALID:
		put_message_authenticator(p, secret);
		break;
	case MA_WRONG_SECRET:
		put_message_authenticator(p, "definitely-not-the-secret");
		break;
	}
}

/* The attributes of an Access-Request carrying EAP-Response/Identity, as a NAS sends it first,
 * without Message-Authenticator and Length (finish_request). */
static void put_identity_request(struct packet *p, uint8_t id)
{
	static const char identity[] = "laptop-0001.corp.example";
	static const char mac[] = "02-00-00-07-00-01";
	uint8_t eap[5 + sizeof(identity) - 1];
	uint8_t localhost[4] = { 127, 0, 0, 1 };

	eap[0] = EAP_CODE_RESPONSE;
	eap[1] = 0;
	eap[2] = 0;
	eap[3] = (uint8_t)sizeof(eap);
	eap[4] = EAP_TYPE_IDENTITY;
	memcpy(eap + 5, identity, sizeof(identity) - 1);

	put_header(p, CODE_ACCESS_REQUEST, id);
	put_attr(p, ATTR_USER_NAME, identity, sizeof(identity) - 1);
	put_attr(p, ATTR_NAS_IP_ADDRESS, localhost, sizeof(localhost));
	put_attr(p, ATTR_CALLING_STATION_ID, mac, sizeof(mac) - 1);
	put_u32(p, ATTR_NAS_PORT_TYPE, 19); /* Wireless-802.11 */
	put_u32(p, ATTR_FRAMED_MTU, 1400);
	put_attr(p, ATTR_EAP_MESSAGE, eap, sizeof(eap));
}

static void build_identity_request(struct packet *p, uint8_t id, const char *secret, enum ma_mode ma)
{
	put_identity_request(p, id);
	finish_request(p, secret, ma);
}

static void build_status_server(struct packet *p, uint8_t id, const char *secret, enum ma_mode ma)
{
	static const char nas_identifier[] = "radius-probe";

	put_header(p, CODE_STATUS_SERVER, id);
	put_attr(p, 32 /* NAS-Identifier */, nas_identifier, sizeof(nas_identifier) - 1);
	if (ma == MA_VALID)
		put_message_authenticator(p, secret);
	else
		set_length(p);
}

static int open_socket(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* connect() so that only datagrams from authd's address and port are received. */
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	return fd;
}

static void send_packet(int fd, const struct packet *p)
{
	if (send(fd, p->data, p->len, 0) != (ssize_t)p->len)
		die("send");
}

/* Waits up to ms for one datagram. Returns false on timeout. */
static bool receive(int fd, struct packet *reply, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	r = poll(&pfd, 1, ms);
	if (r < 0)
		die("poll");
	if (r == 0)
		return false;
	n = recv(fd, reply->data, sizeof(reply->data), 0);
	if (n < 0) {
		/* ICMP port unreachable: nobody listens, which is not a silent drop. */
		if (errno == ECONNREFUSED) {
			check(false, "expected authd listening on the port, got ECONNREFUSED");
			exit(1);
		}
		die("recv");
	}
	reply->len = (size_t)n;
	return true;
}

/* Finds the first attribute of a type; returns its value or NULL. */
static const uint8_t *find_attr(const struct packet *p, uint8_t type, size_t *len)
{
	for (size_t at = RADIUS_HEADER; at + 2 <= p->len && p->data[at + 1] >= 2; at += p->data[at + 1]) {
		if (p->data[at] == type) {
			*len = p->data[at + 1] - 2u;
			return p->data + at + 2;
		}
	}
	return NULL;
}

/* Concatenates every EAP-Message attribute (RFC 3579 3.1). Returns its length. */
static size_t eap_message(const struct packet *p, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (size_t at = RADIUS_HEADER; at + 2 <= p->len && p->data[at + 1] >= 2; at += p->data[at + 1]) {
		size_t alen = p->data[at + 1] - 2u;

		if (p->data[at] != ATTR_EAP_MESSAGE || n + alen > cap)
			continue;
		memcpy(out + n, p->data + at + 2, alen);
		n += alen;
	}
	return n;
}

static const char *code_name(uint8_t code)
{
	switch (code) {
	case 1: return "Access-Request";
	case 2: return "Access-Accept";
	case 3: return "Access-Reject";
	case 11: return "Access-Challenge";
	case 12: return "Status-Server";
	default: return "unknown code";
	}
}

/*
 * The checks every reply must pass: framing, identifier, Response
 * Authenticator, Message-Authenticator present, first and correct.
 */
static void check_reply(const struct packet *req, const struct packet *reply, const char *secret,
                        uint8_t want_code)
{
	uint8_t md[EVP_MAX_MD_SIZE], mac[16];
	unsigned int mdlen = 0;
	struct packet copy;
	size_t at, len;
	bool well_formed = true;
	EVP_MD_CTX *ctx;

	check(reply->len >= RADIUS_HEADER && ((size_t)reply->data[2] << 8 | reply->data[3]) == reply->len,
	      "reply Length field matches the datagram (%zu bytes)", reply->len);
	if (reply->len < RADIUS_HEADER)
		return;
	check(reply->data[0] == want_code, "reply code: expected %u (%s), saw %u (%s)", want_code,
	      code_name(want_code), reply->data[0], code_name(reply->data[0]));
	check(reply->data[1] == req->data[1], "reply identifier: expected %u, saw %u", req->data[1],
	      reply->data[1]);

	for (at = RADIUS_HEADER; at < reply->len; at += reply->data[at + 1]) {
		if (at + 2 > reply->len || reply->data[at + 1] < 2 || at + reply->data[at + 1] > reply->len) {
			well_formed = false;
			break;
		}
	}
	check(well_formed, "reply attributes are well formed");
	if (!well_formed)
		return;

	/* Response Authenticator = MD5(Code+ID+Length+RequestAuth+Attributes+Secret), RFC 2865 3. */
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, reply->data, 4) != 1 ||
	    EVP_DigestUpdate(ctx, req->data + 4, AUTH_LEN) != 1 ||
	    EVP_DigestUpdate(ctx, reply->data + RADIUS_HEADER, reply->len - RADIUS_HEADER) != 1 ||
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
		fprintf(stderr, "FAIL: MD5\n");
		exit(1);
	}
	EVP_MD_CTX_free(ctx);
	check(mdlen == AUTH_LEN && memcmp(md, reply->data + 4, AUTH_LEN) == 0,
	      "reply Response Authenticator is correct for the shared secret");

	check(reply->len >= RADIUS_HEADER + 18 && reply->data[RADIUS_HEADER] == ATTR_MESSAGE_AUTHENTICATOR &&
	              reply->data[RADIUS_HEADER + 1] == 18,
	      "first reply attribute: expected Message-Authenticator (type 80, length 18), saw type %u length %u",
	      reply->len > RADIUS_HEADER + 1 ? reply->data[RADIUS_HEADER] : 0,
	      reply->len > RADIUS_HEADER + 1 ? reply->data[RADIUS_HEADER + 1] : 0);
	if (find_attr(reply, ATTR_MESSAGE_AUTHENTICATOR, &len) == NULL || len != 16)
		return;

	/* HMAC-MD5 over the reply with the Request Authenticator in place and the MA zeroed. */
	copy = *reply;
	memcpy(copy.data + 4, req->data + 4, AUTH_LEN);
	at = (size_t)(find_attr(&copy, ATTR_MESSAGE_AUTHENTICATOR, &len) - copy.data);
	memset(copy.data + at, 0, 16);
	hmac_md5(secret, copy.data, copy.len, mac);
	check(memcmp(mac, reply->data + at, 16) == 0, "reply Message-Authenticator is correct");
}

/* Expects an Access-Challenge carrying State and EAP-Request/EAP-TLS with the Start flag. */
static void check_tls_start(const struct packet *req, const struct packet *reply, const char *secret)
{
	uint8_t eap[RADIUS_MAX];
	size_t len, n;

	check_reply(req, reply, secret, CODE_ACCESS_CHALLENGE);
	check(find_attr(reply, ATTR_STATE, &len) != NULL && len > 0, "Access-Challenge carries State");
	n = eap_message(reply, eap, sizeof(eap));
	check(n >= 6, "Access-Challenge carries an EAP-Message of at least 6 bytes (saw %zu)", n);
	if (n < 6)
		return;
	check(eap[0] == EAP_CODE_REQUEST, "EAP code: expected 1 (Request), saw %u", eap[0]);
	check(((size_t)eap[2] << 8 | eap[3]) == n, "EAP Length field (%u) matches the EAP-Message (%zu)",
	      (unsigned)(eap[2] << 8 | eap[3]), n);
	check(eap[4] == EAP_TYPE_TLS, "EAP type: expected 13 (EAP-TLS), saw %u", eap[4]);
	check((eap[5] & EAP_TLS_FLAG_START) != 0, "EAP-TLS flags 0x%02x have S (start, 0x20) set", eap[5]);
}

static void expect_no_reply(int fd, const char *what)
{
	struct packet reply;
	bool got = receive(fd, &reply, NO_REPLY_WAIT_MS);

	check(!got, "%s: expected no reply within %d ms, saw %s", what, NO_REPLY_WAIT_MS,
	      got ? code_name(reply.data[0]) : "none");
}

/* Sends a valid request and expects the TLS Start: authd is alive and the silence was deliberate. */
static void expect_alive(int fd, uint8_t id, const char *secret)
{
	struct packet req, reply;

	build_identity_request(&req, id, secret, MA_VALID);
	send_packet(fd, &req);
	if (!receive(fd, &reply, REPLY_WAIT_MS)) {
		check(false, "valid Access-Request afterwards: expected an Access-Challenge, got no reply");
		return;
	}
	check_tls_start(&req, &reply, secret);
}

static void run_no_message_authenticator(int fd, const char *secret)
{
	struct packet req;

	build_identity_request(&req, 10, secret, MA_NONE);
	send_packet(fd, &req);
	expect_no_reply(fd, "Access-Request without Message-Authenticator");
	expect_alive(fd, 11, secret);
}

static void run_wrong_message_authenticator(int fd, const char *secret)
{
	struct packet req;

	build_identity_request(&req, 20, secret, MA_WRONG_SECRET);
	send_packet(fd, &req);
	expect_no_reply(fd, "Access-Request with a Message-Authenticator from another secret");
	expect_alive(fd, 21, secret);
}

static void run_challenge(int fd, const char *secret)
{
	expect_alive(fd, 30, secret);
}

static void run_retransmit(int fd, const char *secret)
{
	struct packet req, first, second;

	build_identity_request(&req, 40, secret, MA_VALID);
	send_packet(fd, &req);
	if (!receive(fd, &first, REPLY_WAIT_MS)) {
		check(false, "first transmission: expected an Access-Challenge, got no reply");
		return;
	}
	check_tls_start(&req, &first, secret);
	send_packet(fd, &req);
	if (!receive(fd, &second, REPLY_WAIT_MS)) {
		check(false, "retransmission: expected the same Access-Challenge again, got no reply");
		return;
	}
	if (second.len != first.len)
		check(false, "retransmission: expected a byte-identical reply of %zu bytes, saw %zu bytes",
		      first.len, second.len);
	else
		check(memcmp(first.data, second.data, first.len) == 0,
		      "retransmission: reply is byte-identical to the first (%zu bytes)", first.len);
}

static void run_status_server(int fd, const char *secret)
{
	struct packet req, reply;

	build_status_server(&req, 50, secret, MA_VALID);
	send_packet(fd, &req);
	if (!receive(fd, &reply, REPLY_WAIT_MS)) {
		check(false, "Status-Server: expected an Access-Accept, got no reply");
		return;
	}
	check_reply(&req, &reply, secret, CODE_ACCESS_ACCEPT);
}

static void run_status_server_no_message_authenticator(int fd, const char *secret)
{
	struct packet req;

	build_status_server(&req, 55, secret, MA_NONE);
	send_packet(fd, &req);
	expect_no_reply(fd, "Status-Server without Message-Authenticator");
	run_status_server(fd, secret);
}

static void run_silent(int fd, const char *secret)
{
	struct packet req;

	build_identity_request(&req, 60, secret, MA_VALID);
	send_packet(fd, &req);
	expect_no_reply(fd, "valid Access-Request from an address that is no client");
	build_status_server(&req, 61, secret, MA_VALID);
	send_packet(fd, &req);
	expect_no_reply(fd, "Status-Server from an address that is no client");
}

/*
 * Each an attribute no NAS puts in a request and whose decoding would decrypt it with the shared
 * secret (libfreeradius 3.2.1 leaks two EVP_MD_CTX per Tunnel-Password doing so). The values
 * need not decrypt to anything: authd must refuse them before it tries.
 */
static void run_refused_attributes(int fd, const char *secret)
{
	/* Tag 1, salt with its high bit set (RFC 2868 3.5), one 16-byte block. */
	static const uint8_t tunnel_password[19] = { 0x01, 0x80, 0x01, 0x5a };
	/* Vendor 311 (Microsoft), type 17 (MS-MPPE-Recv-Key), length 2 + salt 2 + one 32-byte block. */
	static const uint8_t mppe_recv_key[4 + 36] = { 0, 0, 0x01, 0x37, 17, 36, 0x80, 0x02 };
	static const uint8_t user_password[16] = "not-a-password!";
	static const struct {
		const char *what;
		uint8_t type;
		const uint8_t *value;
		size_t len;
	} cases[] = {
		{ "Tunnel-Password", ATTR_TUNNEL_PASSWORD, tunnel_password, sizeof(tunnel_password) },
		{ "Vendor-Specific MS-MPPE-Recv-Key", ATTR_VENDOR_SPECIFIC, mppe_recv_key,
		  sizeof(mppe_recv_key) },
		{ "User-Password", ATTR_USER_PASSWORD, user_password, sizeof(user_password) },
	};
	struct packet req;
	char what[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_identity_request(&req, (uint8_t)(70 + i));
		put_attr(&req, cases[i].type, cases[i].value, cases[i].len);
		finish_request(&req, secret, MA_VALID);
		send_packet(fd, &req);
		snprintf(what, sizeof(what), "signed EAP Access-Request with %s", cases[i].what);
		expect_no_reply(fd, what);
	}
	expect_alive(fd, 79, secret);
}

/*
 * What libfreeradius 3.2.1 leaked 1.9 GB on in authd: 25,000 Access-Requests each carrying 180
 * Tunnel-Password attributes: EAP ones, signed; or, to a client that does not require
 * Message-Authenticator, plain ones without it, which anyone can send. A Status-Server after
 * every 500 waits for authd to have read them, so none is lost to a full socket buffer (replies
 * before its answer are counted). None may be answered, and authd must still answer afterwards
 * (radius.sh compares its memory before and after).
 */
static void tunnel_password_flood(int fd, const char *secret, enum ma_mode ma)
{
	static const uint8_t tunnel_password[19] = { 0x01, 0x80, 0x01, 0x5a };
	static const char user[] = "02-00-00-07-00-03";
	struct packet req, reply;
	unsigned answered = 0;

	for (unsigned i = 0; i < 25000; i++) {
		if (ma == MA_VALID) {
			put_identity_request(&req, (uint8_t)i);
		} else {
			put_header(&req, CODE_ACCESS_REQUEST, (uint8_t)i);
			put_attr(&req, ATTR_USER_NAME, user, sizeof(user) - 1);
		}
		for (int k = 0; k < 180; k++)
			put_attr(&req, ATTR_TUNNEL_PASSWORD, tunnel_password, sizeof(tunnel_password));
		finish_request(&req, secret, ma);
		send_packet(fd, &req);
		if (i % 500 != 499)
			continue;
		build_status_server(&req, 0, secret, MA_VALID);
		send_packet(fd, &req);
		for (;;) {
			if (!receive(fd, &reply, REPLY_WAIT_MS)) {
				check(false, "Status-Server after %u flooding requests: no reply", i + 1);
				return;
			}
			if (reply.data[0] == CODE_ACCESS_ACCEPT && reply.data[1] == 0)
				break;
			answered++;
		}
	}
	check(answered == 0, "flooding requests answered: expected 0, saw %u", answered);
	expect_alive(fd, 7, secret);
}

static void run_tunnel_password_flood(int fd, const char *secret)
{
	tunnel_password_flood(fd, secret, MA_VALID);
}

static void run_tunnel_password_flood_unsigned(int fd, const char *secret)
{
	tunnel_password_flood(fd, secret, MA_NONE);
}

static void run_user_password(int fd, const char *secret)
{
	static const char user[] = "02-00-00-07-00-02";
	static const uint8_t user_password[16] = "02-00-00-07-00-";
	struct packet req, reply;

	put_header(&req, CODE_ACCESS_REQUEST, 80);
	put_attr(&req, ATTR_USER_NAME, user, sizeof(user) - 1);
	put_attr(&req, ATTR_USER_PASSWORD, user_password, sizeof(user_password));
	put_attr(&req, ATTR_CALLING_STATION_ID, user, sizeof(user) - 1);
	finish_request(&req, secret, MA_VALID);
	send_packet(fd, &req);
	if (!receive(fd, &reply, REPLY_WAIT_MS)) {
		check(false, "PAP Access-Request: expected an Access-Reject, got no reply");
		return;
	}
	check_reply(&req, &reply, secret, CODE_ACCESS_REJECT);
}

static const struct {
	const char *name;
	void (*run)(int fd, const char *secret);
} checks[] = {
	{ "no-message-authenticator", run_no_message_authenticator },
	{ "wrong-message-authenticator", run_wrong_message_authenticator },
	{ "challenge", run_challenge },
	{ "retransmit", run_retransmit },
	{ "status-server", run_status_server },
	{ "status-server-no-message-authenticator", run_status_server_no_message_authenticator },
	{ "silent", run_silent },
	{ "refused-attributes", run_refused_attributes },
	{ "tunnel-password-flood", run_tunnel_password_flood },
	{ "tunnel-password-flood-unsigned", run_tunnel_password_flood_unsigned },
	{ "user-password", run_user_password },
};

int main(int argc, char **argv)
{
	char *end;
	long port;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: radius_probe PORT SECRET CHECK\n");
		return 2;
	}
	port = strtol(argv[1], &end, 10);
	if (*end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "radius_probe: bad port '%s'\n", argv[1]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (strcmp(argv[3], checks[i].name) != 0)
			continue;
		fd = open_socket((int)port);
		checks[i].run(fd, argv[2]);
		close(fd);
		if (failures > 0) {
			printf("radius_probe %s: %d assertion(s) failed\n", argv[3], failures);
			return 1;
		}
		printf("radius_probe %s: all assertions held\n", argv[3]);
		return 0;
	}
	fprintf(stderr, "radius_probe: unknown check '%s'\n", argv[3]);
	return 2;
}
