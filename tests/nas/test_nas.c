/*
 * test_nas — the NAS side of what authd talks to, for tests. Packets are
 * built and checked byte by byte with OpenSSL, independently of authd's code
 * and of libfreeradius, so a shared misunderstanding cannot hide a bug.
 *
 * test_nas listen --port-file F --secret S --mode ack|nak|silent|bad-authenticator [--log L]
 *                [--address A]
 *   A Dynamic Authorization Server (RFC 5176). Binds UDP on A (an IPv4
 *   loopback address, default 127.0.0.1), port chosen by the kernel, writes the port number to F (to F.tmp first, then
 *   renamed, so a reader never sees half of it) and serves until SIGTERM or
 *   SIGINT. Every datagram gets ONE line, appended to L (stdout without
 *   --log) and flushed at once:
 *     code=40 id=17 authenticator=valid message_authenticator=valid first=yes
 *     Message-Authenticator=<hex> User-Name=laptop-0001.corp.example ...
 *     Event-Timestamp=1700000000 reply=41
 *   (on one line). authenticator: the Request Authenticator is
 *   MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret), as for
 *   Accounting-Request. message_authenticator: valid, invalid or absent,
 *   computed with the authenticator field and itself zeroed (RFC 5176 3.4);
 *   first: whether it is the first attribute. Then every attribute in order:
 *   known ones by name (strings with spaces, backslashes and bytes outside
 *   printable ASCII as \xHH; addresses dotted; integers in decimal; State,
 *   Class and Message-Authenticator in hex), unknown ones as Attr-N=<hex>.
 *   Last, reply=<code> or reply=none. A datagram that is no RADIUS packet
 *   gets a line starting "malformed".
 *   Disconnect-Request (40) and CoA-Request (43) with a valid authenticator
 *   and no invalid Message-Authenticator are answered according to --mode:
 *     ack                Disconnect-ACK (41) / CoA-ACK (44)
 *     nak                Disconnect-NAK (42) / CoA-NAK (45) with Error-Cause 503
 *                        (Session-Context-Not-Found)
 *     silent             no reply
 *     bad-authenticator  an ACK with a wrong Response Authenticator
 *   Replies carry Message-Authenticator first, computed with the Request
 *   Authenticator in place (RFC 5176 3.4), and the Response Authenticator
 *   MD5(Code+Identifier+Length+Request Authenticator+Attributes+Secret).
 *   Everything else is logged and gets no reply.
 *
 * test_nas account --server HOST:PORT --secret S --status start|interim|stop|on|off
 *                  [--source ADDR] [--message-authenticator] [Attr=Value ...]
 *   Sends one Accounting-Request (RFC 2866) with Acct-Status-Type 1 (start),
 *   3 (interim), 2 (stop), 7 (on: Accounting-On) or 8 (off: Accounting-Off),
 *   then the attributes given, in order: User-Name, Acct-Session-Id,
 *   Calling-Station-Id, Called-Station-Id, NAS-Identifier (text),
 *   NAS-IP-Address (dotted IPv4), NAS-IPv6-Address, NAS-Port, NAS-Port-Type,
 *   Acct-Session-Time (numbers), Class (hex). --message-authenticator puts a
 *   Message-Authenticator first (computed with the authenticator zeroed).
 *   HOST may be a name, an IPv4 address or [IPv6]. --source sends from ADDR
 *   (e.g. 127.0.0.2, to be another NAS of the same host). The socket is
 *   connected to HOST: a reply from any other address never reaches it. The same packet is
 *   retransmitted up to 3 times, 1 s apart. An Accounting-Response must have
 *   the Identifier, a correct Response Authenticator and, if present, a
 *   correct Message-Authenticator. Prints what happened.
 *   Exit status: 0 a valid Accounting-Response, 1 no response, 2 an invalid
 *   response, 3 usage or local error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

enum {
	CODE_ACCOUNTING_REQUEST = 4,
	CODE_ACCOUNTING_RESPONSE = 5,
	CODE_DISCONNECT_REQUEST = 40,
	CODE_COA_REQUEST = 43,

	ATTR_MESSAGE_AUTHENTICATOR = 80,
	ATTR_ACCT_STATUS_TYPE = 40,
	ATTR_ERROR_CAUSE = 101,

	HEADER = 20,
	AUTH_LEN = 16,
	MAX_PACKET = 4096,

	EXIT_VALID = 0,
	EXIT_NO_RESPONSE = 1,
	EXIT_INVALID = 2,
	EXIT_USAGE = 3,
};

struct packet {
	uint8_t data[MAX_PACKET];
	size_t len;
};

/* ---- RADIUS by hand ------------------------------------------------------ */

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("test_nas: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static void put_attr(struct packet *p, uint8_t type, const void *value, size_t len)
{
	if (len > 253 || p->len + 2 + len > sizeof(p->data))
		fatal("attribute %u does not fit", type);
	p->data[p->len] = type;
	p->data[p->len + 1] = (uint8_t)(2 + len);
	memcpy(p->data + p->len + 2, value, len);
	p->len += 2 + len;
}

static void put_u32(struct packet *p, uint8_t type, uint32_t v)
{
	uint8_t be[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put_attr(p, type, be, sizeof(be));
}

static void set_length(struct packet *p)
{
	p->data[2] = (uint8_t)(p->len >> 8);
	p->data[3] = (uint8_t)p->len;
}

/* MD5(Code+Identifier+Length+auth+Attributes+Secret) of data[0..len); auth
 * NULL means 16 zero octets, as for a request (RFC 2866 3, RFC 5176 2.3). */
static void md5_authenticator(const uint8_t *data, size_t len, const uint8_t *auth, const char *secret,
                              uint8_t out[AUTH_LEN])
{
	static const uint8_t zero[AUTH_LEN];
	unsigned int outlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 || EVP_DigestUpdate(ctx, data, 4) != 1 ||
	    EVP_DigestUpdate(ctx, auth != NULL ? auth : zero, AUTH_LEN) != 1 ||
	    EVP_DigestUpdate(ctx, data + HEADER, len - HEADER) != 1 ||
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) != 1 || EVP_DigestFinal_ex(ctx, out, &outlen) != 1 ||
	    outlen != AUTH_LEN)
		fatal("MD5 failed");
	EVP_MD_CTX_free(ctx);
}

/* HMAC-MD5 over the packet with auth in the authenticator field and the
 * Message-Authenticator at ma_at zeroed (RFC 3579 3.2, RFC 5176 3.4). */
static void message_authenticator(const uint8_t *data, size_t len, size_t ma_at, const uint8_t *auth,
                                  const char *secret, uint8_t out[AUTH_LEN])
{
	uint8_t copy[MAX_PACKET];
	unsigned int outlen = 0;

	memcpy(copy, data, len);
	memcpy(copy + 4, auth, AUTH_LEN);
	memset(copy + ma_at + 2, 0, AUTH_LEN);
	if (HMAC(EVP_md5(), secret, (int)strlen(secret), copy, len, out, &outlen) == NULL || outlen != AUTH_LEN)
		fatal("HMAC-MD5 failed");
}

/* Walks the attributes; false with the offset of the first bad one. */
static bool attributes_ok(const uint8_t *data, size_t len, size_t *bad_at)
{
	for (size_t at = HEADER; at < len; at += data[at + 1]) {
		if (at + 2 > len || data[at + 1] < 2 || at + data[at + 1] > len) {
			*bad_at = at;
			return false;
		}
	}
	return true;
}

/* ---- one log line -------------------------------------------------------- */

struct line {
	char text[32768];
	size_t len;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->text) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len = l->len + (size_t)n < sizeof(l->text) ? l->len + (size_t)n : sizeof(l->text) - 1;
}

static void add_hex(struct line *l, const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		add(l, "%02x", v[i]);
}

/* Keeps the line one line of space-separated name=value words. */
static void add_text(struct line *l, const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (v[i] > 0x20 && v[i] < 0x7f && v[i] != '\\')
			add(l, "%c", v[i]);
		else
			add(l, "\\x%02x", v[i]);
	}
}

enum kind { TEXT, NUMBER, IPV4, IPV6, HEX };

static const struct {
	uint8_t type;
	const char *name;
	enum kind kind;
} known[] = {
	{ 1, "User-Name", TEXT },
	{ 4, "NAS-IP-Address", IPV4 },
	{ 5, "NAS-Port", NUMBER },
	{ 6, "Service-Type", NUMBER },
	{ 8, "Framed-IP-Address", IPV4 },
	{ 24, "State", HEX },
	{ 25, "Class", HEX },
	{ 30, "Called-Station-Id", TEXT },
	{ 31, "Calling-Station-Id", TEXT },
	{ 32, "NAS-Identifier", TEXT },
	{ 40, "Acct-Status-Type", NUMBER },
	{ 44, "Acct-Session-Id", TEXT },
	{ 46, "Acct-Session-Time", NUMBER },
	{ 50, "Acct-Multi-Session-Id", TEXT },
	{ 55, "Event-Timestamp", NUMBER },
	{ 61, "NAS-Port-Type", NUMBER },
	{ 80, "Message-Authenticator", HEX },
	{ 87, "NAS-Port-Id", TEXT },
	{ 89, "Chargeable-User-Identity", TEXT },
	{ 95, "NAS-IPv6-Address", IPV6 },
	{ 101, "Error-Cause", NUMBER },
};

static void add_attribute(struct line *l, uint8_t type, const uint8_t *v, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		if (known[k].type != type)
			continue;
		add(l, " %s=", known[k].name);
		if (known[k].kind == TEXT)
			add_text(l, v, len);
		else if (known[k].kind == NUMBER && len == 4)
			add(l, "%u", (unsigned)v[0] << 24 | (unsigned)v[1] << 16 | (unsigned)v[2] << 8 | v[3]);
		else if (known[k].kind == IPV4 && len == 4)
			add(l, "%u.%u.%u.%u", v[0], v[1], v[2], v[3]);
		else if (known[k].kind == IPV6 && len == 16)
			add(l, "%s", inet_ntop(AF_INET6, v, text, sizeof(text)));
		else
			add_hex(l, v, len);   /* HEX, or a number or address of the wrong size */
		return;
	}
	add(l, " Attr-%u=", type);
	add_hex(l, v, len);
}

/* ---- listen --------------------------------------------------------------- */

enum mode { MODE_ACK, MODE_NAK, MODE_SILENT, MODE_BAD_AUTHENTICATOR };

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		fatal("port file name too long");
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0)
		fatal("%s: %s", tmp, strerror(errno));
	if (rename(tmp, path) < 0)
		fatal("rename %s: %s", path, strerror(errno));
}

/* Builds in r the answer to req, a valid request (its Request Authenticator at req->data + 4). */
static void build_reply(const struct packet *req, enum mode mode, const char *secret, struct packet *r)
{
	static const uint8_t zero[AUTH_LEN];
	uint8_t code = req->data[0];

	r->data[0] = (uint8_t)(mode == MODE_NAK ? code + 2 : code + 1);
	r->data[1] = req->data[1];
	r->len = HEADER;
	put_attr(r, ATTR_MESSAGE_AUTHENTICATOR, zero, sizeof(zero));
	if (mode == MODE_NAK)
		put_u32(r, ATTR_ERROR_CAUSE, 503);
	set_length(r);
	message_authenticator(r->data, r->len, HEADER, req->data + 4, secret, r->data + HEADER + 2);
	md5_authenticator(r->data, r->len, req->data + 4, secret, r->data + 4);
	if (mode == MODE_BAD_AUTHENTICATOR)
		r->data[4] ^= 0x5a;
}

static void serve_datagram(int fd, const char *secret, enum mode mode, FILE *log)
{
	static const uint8_t zero[AUTH_LEN];
	struct packet req, reply;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	struct line *l = calloc(1, sizeof(*l));
	uint8_t expect[AUTH_LEN];
	size_t plen, bad_at, ma_at = 0, ma_count = 0;
	bool auth_ok, ma_ok = false, answer;
	ssize_t n;

	if (l == NULL)
		fatal("out of memory");
	n = recvfrom(fd, req.data, sizeof(req.data), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
	if (n < 0) {
		free(l);
		return;
	}
	if ((size_t)n > sizeof(req.data)) {
		add(l, "malformed datagram of %zd octets (more than 4096)", n);
		goto out;
	}
	req.len = (size_t)n;
	if (req.len < HEADER) {
		add(l, "malformed datagram of %zu octets (shorter than a RADIUS header)", req.len);
		goto out;
	}
	plen = (size_t)req.data[2] << 8 | req.data[3];
	if (plen < HEADER || plen > req.len) {
		add(l, "malformed code=%u id=%u Length field %zu in %zu octets", req.data[0], req.data[1], plen,
		    req.len);
		goto out;
	}
	req.len = plen;
	if (!attributes_ok(req.data, req.len, &bad_at)) {
		add(l, "malformed code=%u id=%u attribute at offset %zu overruns the packet", req.data[0],
		    req.data[1], bad_at);
		goto out;
	}

	md5_authenticator(req.data, req.len, NULL, secret, expect);
	auth_ok = CRYPTO_memcmp(expect, req.data + 4, AUTH_LEN) == 0;
	for (size_t at = HEADER; at < req.len; at += req.data[at + 1]) {
		if (req.data[at] == ATTR_MESSAGE_AUTHENTICATOR) {
			ma_count++;
			ma_at = at;
		}
	}
	if (ma_count == 1 && req.data[ma_at + 1] == 2 + AUTH_LEN) {
		message_authenticator(req.data, req.len, ma_at, zero, secret, expect);
		ma_ok = CRYPTO_memcmp(expect, req.data + ma_at + 2, AUTH_LEN) == 0;
	}

	add(l, "code=%u id=%u authenticator=%s message_authenticator=%s first=%s", req.data[0], req.data[1],
	    auth_ok ? "valid" : "invalid", ma_count == 0 ? "absent" : ma_ok ? "valid" : "invalid",
	    ma_count > 0 && req.data[HEADER] == ATTR_MESSAGE_AUTHENTICATOR ? "yes" : "no");
	for (size_t at = HEADER; at < req.len; at += req.data[at + 1])
		add_attribute(l, req.data[at], req.data + at + 2, req.data[at + 1] - 2u);
	{
		char host[INET6_ADDRSTRLEN] = "?";

		if (from.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, host, sizeof(host));
		else if (from.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, host, sizeof(host));
		add(l, " from=%s", host);
	}

	answer = (req.data[0] == CODE_DISCONNECT_REQUEST || req.data[0] == CODE_COA_REQUEST) && auth_ok &&
	         (ma_count == 0 || ma_ok) && mode != MODE_SILENT;
	if (!answer) {
		add(l, " reply=none");
		goto out;
	}
	build_reply(&req, mode, secret, &reply);
	add(l, " reply=%u", reply.data[0]);
	/* Logged before the answer leaves: whoever holds the answer finds the line. */
	fprintf(log, "%s\n", l->text);
	fflush(log);
	if (sendto(fd, reply.data, reply.len, 0, (struct sockaddr *)&from, fromlen) != (ssize_t)reply.len) {
		fprintf(log, "send_error=%s\n", strerror(errno));
		fflush(log);
	}
	free(l);
	return;

out:
	fprintf(log, "%s\n", l->text);
	fflush(log);
	free(l);
}

static int run_listen(int argc, char **argv)
{
	const char *port_file = NULL, *secret = NULL, *mode_name = NULL, *log_path = NULL;
	const char *address = "127.0.0.1";
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sinlen = sizeof(sin);
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, unblocked;
	enum mode mode;
	FILE *log = stdout;
	int fd;

	for (int i = 2; i < argc; i++) {
		const char **slot = strcmp(argv[i], "--port-file") == 0 ? &port_file
		                    : strcmp(argv[i], "--secret") == 0  ? &secret
		                    : strcmp(argv[i], "--mode") == 0    ? &mode_name
		                    : strcmp(argv[i], "--log") == 0     ? &log_path
		                    : strcmp(argv[i], "--address") == 0 ? &address
		                                                        : NULL;

		if (slot == NULL || i + 1 == argc)
			fatal("listen: unexpected argument '%s'", argv[i]);
		*slot = argv[++i];
	}
	if (port_file == NULL || secret == NULL || mode_name == NULL)
		fatal("usage: test_nas listen --port-file F --secret S --mode ack|nak|silent|bad-authenticator "
		      "[--log L] [--address A]");
	if (inet_pton(AF_INET, address, &sin.sin_addr) != 1)
		fatal("listen: --address '%s' is not a dotted IPv4 address", address);
	if (strcmp(mode_name, "ack") == 0)
		mode = MODE_ACK;
	else if (strcmp(mode_name, "nak") == 0)
		mode = MODE_NAK;
	else if (strcmp(mode_name, "silent") == 0)
		mode = MODE_SILENT;
	else if (strcmp(mode_name, "bad-authenticator") == 0)
		mode = MODE_BAD_AUTHENTICATOR;
	else
		fatal("listen: unknown mode '%s'", mode_name);
	if (log_path != NULL && (log = fopen(log_path, "a")) == NULL)
		fatal("%s: %s", log_path, strerror(errno));

	/* The signals stay blocked except inside ppoll(), so none is lost between
	 * checking `stopping` and going to sleep. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sinlen) < 0)
		fatal("bind: %s", strerror(errno));
	write_port_file(port_file, ntohs(sin.sin_port));

	while (!stopping) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (ppoll(&pfd, 1, NULL, &unblocked) > 0 && (pfd.revents & POLLIN))
			serve_datagram(fd, secret, mode, log);
	}
	close(fd);
	if (log != stdout)
		fclose(log);
	return 0;
}

/* ---- account -------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long parse_number(const char *name, const char *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n > UINT32_MAX)
		fatal("%s: '%s' is not a number", name, v);
	return n;
}

static void put_named(struct packet *p, const char *arg)
{
	static const struct {
		const char *name;
		uint8_t type;
		enum kind kind;
	} names[] = {
		{ "User-Name", 1, TEXT },          { "NAS-IP-Address", 4, IPV4 },
		{ "NAS-Port", 5, NUMBER },         { "Class", 25, HEX },
		{ "Called-Station-Id", 30, TEXT }, { "Calling-Station-Id", 31, TEXT },
		{ "NAS-Identifier", 32, TEXT },    { "Acct-Session-Id", 44, TEXT },
		{ "Acct-Session-Time", 46, NUMBER }, { "NAS-Port-Type", 61, NUMBER },
		{ "NAS-IPv6-Address", 95, IPV6 },
	};
	const char *eq = strchr(arg, '='), *v;
	size_t namelen;

	if (eq == NULL)
		fatal("account: '%s' is not Attr=Value", arg);
	namelen = (size_t)(eq - arg);
	v = eq + 1;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		uint8_t buf[253];
		struct in_addr ip;
		struct in6_addr ip6;
		size_t len;

		if (strlen(names[k].name) != namelen || strncmp(names[k].name, arg, namelen) != 0)
			continue;
		switch (names[k].kind) {
		case TEXT:
			put_attr(p, names[k].type, v, strlen(v));
			return;
		case NUMBER:
			put_u32(p, names[k].type, (uint32_t)parse_number(names[k].name, v));
			return;
		case IPV4:
			if (inet_pton(AF_INET, v, &ip) != 1)
				fatal("%s: '%s' is not a dotted IPv4 address", names[k].name, v);
			put_attr(p, names[k].type, &ip.s_addr, 4);
			return;
		case IPV6:
			if (inet_pton(AF_INET6, v, &ip6) != 1)
				fatal("%s: '%s' is not an IPv6 address", names[k].name, v);
			put_attr(p, names[k].type, &ip6, sizeof(ip6));
			return;
		case HEX:
			len = strlen(v) / 2;
			if (strlen(v) % 2 != 0 || len > sizeof(buf))
				fatal("%s: '%s' is not hex of at most 253 octets", names[k].name, v);
			for (size_t i = 0; i < len; i++) {
				unsigned byte;

				if (sscanf(v + 2 * i, "%2x", &byte) != 1)
					fatal("%s: '%s' is not hex", names[k].name, v);
				buf[i] = (uint8_t)byte;
			}
			put_attr(p, names[k].type, buf, len);
			return;
		}
	}
	fatal("account: unknown attribute '%.*s'", (int)namelen, arg);
}

/* "host:port", "[v6]:port". Connects a UDP socket to it, bound to source
 * (an address literal) unless NULL. */
static int connect_server(const char *server, const char *source)
{
	char host[256];
	const char *colon = strrchr(server, ':'), *h = server;
	size_t hostlen;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL, *ai;
	int fd = -1, rc;

	if (colon == NULL || colon == server)
		fatal("--server '%s' is not HOST:PORT", server);
	hostlen = (size_t)(colon - server);
	if (server[0] == '[' && hostlen >= 2 && server[hostlen - 1] == ']') {
		h = server + 1;
		hostlen -= 2;
	}
	if (hostlen >= sizeof(host))
		fatal("--server '%s': host too long", server);
	memcpy(host, h, hostlen);
	host[hostlen] = '\0';
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		fatal("--server '%s': %s", server, gai_strerror(rc));
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && source != NULL) {
			struct sockaddr_in sin = { .sin_family = AF_INET };
			struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
			bool v4 = ai->ai_family == AF_INET;

			if (v4 ? inet_pton(AF_INET, source, &sin.sin_addr) != 1
			       : ai->ai_family != AF_INET6 || inet_pton(AF_INET6, source, &sin6.sin6_addr) != 1)
				fatal("--source '%s' must be an address of the server's family", source);
			if (bind(fd, v4 ? (struct sockaddr *)&sin : (struct sockaddr *)&sin6,
			         v4 ? sizeof(sin) : sizeof(sin6)) < 0)
				fatal("--source '%s': %s", source, strerror(errno));
		}
		/* connect(): only the server's datagrams, and ICMP errors, reach us. */
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		fatal("--server '%s': cannot connect a UDP socket", server);
	return fd;
}

/* Checks an Accounting-Response; NULL when valid, else why not. */
static const char *check_response(const struct packet *req, const char *secret, const uint8_t *buf,
                                  size_t len, char *why, size_t whylen)
{
	uint8_t expect[AUTH_LEN];
	size_t plen, bad_at, ma_at = 0;

	if (len < HEADER) {
		snprintf(why, whylen, "%zu octets is shorter than a RADIUS header", len);
		return why;
	}
	plen = (size_t)buf[2] << 8 | buf[3];
	if (plen < HEADER || plen > len) {
		snprintf(why, whylen, "Length field %zu does not fit the %zu octets received", plen, len);
		return why;
	}
	if (buf[0] != CODE_ACCOUNTING_RESPONSE) {
		snprintf(why, whylen, "code %u, expected 5 (Accounting-Response)", buf[0]);
		return why;
	}
	if (buf[1] != req->data[1]) {
		snprintf(why, whylen, "Identifier %u, expected %u", buf[1], req->data[1]);
		return why;
	}
	if (!attributes_ok(buf, plen, &bad_at)) {
		snprintf(why, whylen, "attribute at offset %zu overruns the packet", bad_at);
		return why;
	}
	md5_authenticator(buf, plen, req->data + 4, secret, expect);
	if (CRYPTO_memcmp(expect, buf + 4, AUTH_LEN) != 0) {
		snprintf(why, whylen, "wrong Response Authenticator (shared secret mismatch?)");
		return why;
	}
	for (size_t at = HEADER; at < plen; at += buf[at + 1]) {
		if (buf[at] != ATTR_MESSAGE_AUTHENTICATOR)
			continue;
		if (ma_at != 0 || buf[at + 1] != 2 + AUTH_LEN) {
			snprintf(why, whylen, "Message-Authenticator repeated or not 16 octets");
			return why;
		}
		ma_at = at;
	}
	if (ma_at != 0) {
		message_authenticator(buf, plen, ma_at, req->data + 4, secret, expect);
		if (CRYPTO_memcmp(expect, buf + ma_at + 2, AUTH_LEN) != 0) {
			snprintf(why, whylen, "wrong Message-Authenticator");
			return why;
		}
	}
	return NULL;
}

static int run_account(int argc, char **argv)
{
	static const uint8_t zero[AUTH_LEN];
	const char *server = NULL, *secret = NULL, *status = NULL, *source = NULL;
	bool with_ma = false;
	struct packet req = { .len = HEADER };
	uint32_t status_type;
	int fd, i;

	for (i = 2; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--message-authenticator") == 0) {
			with_ma = true;
			continue;
		}
		const char **slot = strcmp(argv[i], "--server") == 0   ? &server
		                    : strcmp(argv[i], "--secret") == 0 ? &secret
		                    : strcmp(argv[i], "--status") == 0 ? &status
		                    : strcmp(argv[i], "--source") == 0 ? &source
		                                                       : NULL;

		if (slot == NULL || i + 1 == argc)
			fatal("account: unexpected argument '%s'", argv[i]);
		*slot = argv[++i];
	}
	if (server == NULL || secret == NULL || status == NULL)
		fatal("usage: test_nas account --server HOST:PORT --secret S --status start|interim|stop|on|off "
		      "[--source ADDR] [--message-authenticator] [Attr=Value ...]");
	if (strcmp(status, "start") == 0)
		status_type = 1;
	else if (strcmp(status, "stop") == 0)
		status_type = 2;
	else if (strcmp(status, "interim") == 0)
		status_type = 3;
	else if (strcmp(status, "on") == 0)
		status_type = 7;
	else if (strcmp(status, "off") == 0)
		status_type = 8;
	else
		fatal("account: --status must be start, interim, stop, on or off, not '%s'", status);

	req.data[0] = CODE_ACCOUNTING_REQUEST;
	if (RAND_bytes(&req.data[1], 1) != 1)
		fatal("RAND_bytes failed");
	if (with_ma)
		put_attr(&req, ATTR_MESSAGE_AUTHENTICATOR, zero, sizeof(zero));
	put_u32(&req, ATTR_ACCT_STATUS_TYPE, status_type);
	for (; i < argc; i++)
		put_named(&req, argv[i]);
	set_length(&req);
	/* RFC 2866 3: the authenticator field is zero while both are computed. */
	if (with_ma)
		message_authenticator(req.data, req.len, HEADER, zero, secret, req.data + HEADER + 2);
	md5_authenticator(req.data, req.len, NULL, secret, req.data + 4);

	fd = connect_server(server, source);
	for (int attempt = 1; attempt <= 4; attempt++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint8_t buf[MAX_PACKET];
		char why[128];
		ssize_t n;
		int left;

		if (send(fd, req.data, req.len, 0) != (ssize_t)req.len)
			printf("send %d of Accounting-Request id %u: %s\n", attempt, req.data[1], strerror(errno));
		else
			printf("sent Accounting-Request id %u Acct-Status-Type %u (%zu octets), try %d\n", req.data[1],
			       status_type, req.len, attempt);
		for (long long deadline = now_ms() + 1000; (left = (int)(deadline - now_ms())) > 0;) {
			if (poll(&pfd, 1, left) <= 0)
				continue;
			n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0) {
				/* ECONNREFUSED: an ICMP port unreachable; nobody listens (yet). */
				printf("no response yet: %s\n", strerror(errno));
				continue;
			}
			if (check_response(&req, secret, buf, (size_t)n, why, sizeof(why)) != NULL) {
				printf("invalid response: %s\n", why);
				close(fd);
				return EXIT_INVALID;
			}
			printf("valid Accounting-Response id %u\n", buf[1]);
			close(fd);
			return EXIT_VALID;
		}
	}
	printf("no response after 4 tries\n");
	close(fd);
	return EXIT_NO_RESPONSE;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "listen") == 0)
		return run_listen(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "account") == 0)
		return run_account(argc, argv);
	fprintf(stderr, "usage: test_nas listen --port-file F --secret S --mode ack|nak|silent|bad-authenticator "
	                "[--log L] [--address A]\n"
	                "       test_nas account --server HOST:PORT --secret S --status start|interim|stop|on|off "
	                "[--source ADDR] [--message-authenticator] [Attr=Value ...]\n");
	return EXIT_USAGE;
}
