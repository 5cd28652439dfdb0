/*
 * eap_memory — what one EAP-TLS conversation costs in resident memory while a peer holds it
 * open, measured in process against eap/ (no RADIUS, no sockets): N conversations are brought
 * to the same state and kept, and the growth of RSS (/proc/self/statm) is divided by N.
 *
 *   eap_memory --pki DIR [--count N] [--mode MODE] [--declare BYTES] [--max-handshake BYTES]
 *
 * Modes (each ends with the conversation waiting for the peer's next packet):
 *   half-open   EAP-Response/Identity answered by EAP-TLS Start: nothing of TLS arrived yet
 *   hello       one 9-byte TLS record: a record header and the 4-byte header of a
 *               ClientHello declaring --declare bytes (default 131396, OpenSSL's own limit),
 *               and nothing of its body; what OpenSSL preallocates for the claim shows here
 *   reassembly  a fragmented EAP-TLS message with L = --declare bytes (default 65536),
 *               all of it sent but the last byte: the reassembly buffer at its fullest.
 *               Its content is application-data records, which nothing before TLS reads
 * --pki defaults to $AUTHD_PKI (a directory made by tests/pki/make-pki.sh), --count to 2000,
 * --max-handshake to the eap module's default (eap.max_handshake_message).
 *
 * Output, one line: mode=... count=N declared=... refused=R rss_before_kb=... rss_after_kb=...
 * kb_per_conversation=... openssl_kb_per_conversation=... (OpenSSL's heap in use, counted by
 * its allocator hooks: eap/ allocates through OpenSSL too) buffered_kb_per_conversation=... (what eap_conversation_buffered
 * counts against authd's byte quotas; refused: conversations eap/ ended at once; they are freed, as
 * authd frees them).
 */
#include <err.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "eap/eap_tls.h"

#define FRAGMENT 1000

enum mode { MODE_HALF_OPEN, MODE_HELLO, MODE_REASSEMBLY };

/* OpenSSL's heap in use, counted by its allocator hooks: what RSS shows, less the noise. */
static _Atomic size_t openssl_bytes;

struct block {
	size_t size;
	max_align_t align;
};

static void *counted_malloc(size_t n, const char *file, int line)
{
	struct block *b = malloc(sizeof(*b) + n);

	(void)file;
	(void)line;
	if (b == NULL)
		return NULL;
	b->size = n;
	openssl_bytes += n;
	return b + 1;
}

static void counted_free(void *p, const char *file, int line)
{
	struct block *b = p != NULL ? (struct block *)p - 1 : NULL;

	(void)file;
	(void)line;
	if (b == NULL)
		return;
	openssl_bytes -= b->size;
	free(b);
}

static void *counted_realloc(void *p, size_t n, const char *file, int line)
{
	struct block *b = p != NULL ? (struct block *)p - 1 : NULL;
	size_t old = b != NULL ? b->size : 0;

	if (n == 0) {
		counted_free(p, file, line);
		return NULL;
	}
	b = realloc(b, sizeof(*b) + n);
	if (b == NULL)
		return NULL;
	openssl_bytes += n - old;
	b->size = n;
	return b + 1;
}

static long rss_kb(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL || fscanf(f, "%ld %ld", &size, &resident) != 2)
		errx(1, "cannot read /proc/self/statm");
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* An EAP-TLS response: flags, L (when flag 0x80), data. Returns its length. */
static size_t tls_response(uint8_t *pkt, uint8_t id, uint8_t flags, uint32_t l,
                           const uint8_t *data, size_t len)
{
	size_t off = 6;

	pkt[0] = 2;
	pkt[1] = id;
	pkt[4] = 13;
	pkt[5] = flags;
	if (flags & 0x80) {
		pkt[6] = (uint8_t)(l >> 24);
		pkt[7] = (uint8_t)(l >> 16);
		pkt[8] = (uint8_t)(l >> 8);
		pkt[9] = (uint8_t)l;
		off = 10;
	}
	memcpy(pkt + off, data, len);
	pkt[2] = (uint8_t)((off + len) >> 8);
	pkt[3] = (uint8_t)(off + len);
	return off + len;
}

/* Application-data records of 16 KiB, cut at any length. */
static void app_data_stream(uint8_t *buf, size_t len)
{
	for (size_t off = 0; off < len; off += 5 + 16384) {
		uint8_t header[5] = { 23, 3, 3, 0x40, 0x00 };
		size_t n = len - off < 5 ? len - off : 5;

		memcpy(buf + off, header, n);
		if (off + 5 < len)
			memset(buf + off + 5, 0xa5, len - off - 5 < 16384 ? len - off - 5 : 16384);
	}
}

/* Brings one conversation to the mode's state. Returns the last step. */
static enum eap_step drive(struct eap_conversation *conv, enum mode mode, uint32_t declared,
                           const uint8_t *stream)
{
	uint8_t identity[] = { 2, 0, 0, 9, 1, 'b', 'e', 'n', 'c' };
	uint8_t pkt[16 + FRAGMENT];
	const uint8_t *out;
	size_t outlen;
	enum eap_step step;

	if (eap_conversation_step(conv, NULL, 0, &out, &outlen) != EAP_STEP_SEND)
		errx(1, "no Identity request");
	identity[1] = out[1];
	step = eap_conversation_step(conv, identity, sizeof(identity), &out, &outlen);
	if (step != EAP_STEP_SEND || mode == MODE_HALF_OPEN)
		return step;
	if (mode == MODE_HELLO) {
		const uint8_t hello[] = { 22, 3, 1, 0, 4, 1, (uint8_t)(declared >> 16),
		                          (uint8_t)(declared >> 8), (uint8_t)declared };

		return eap_conversation_step(conv, pkt, tls_response(pkt, out[1], 0, 0, hello, sizeof(hello)),
		                             &out, &outlen);
	}
	for (size_t sent = 0; step == EAP_STEP_SEND && sent < declared - 1; ) {
		size_t n = declared - 1 - sent < FRAGMENT ? declared - 1 - sent : FRAGMENT;

		step = eap_conversation_step(conv, pkt,
		                             tls_response(pkt, out[1], sent == 0 ? 0xc0 : 0x40, declared,
		                                          stream + sent, n),
		                             &out, &outlen);
		sent += n;
	}
	return step;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "pki", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "declare", required_argument, NULL, 'd' },
		{ "max-handshake", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pki = getenv("AUTHD_PKI"), *mode_name = "half-open";
	char cert[512], key[512], ca[512], msg[256];
	struct eap_tls_settings settings = {
		.certificate = cert, .private_key = key, .ca = ca,
		.min_version = TLS1_2_VERSION, .max_version = TLS1_3_VERSION, .require_client_eku = true,
	};
	struct eap_conversation **convs;
	struct eap_tls_context *ctx;
	unsigned long count = 2000, declared = 0, refused = 0, max_handshake = 0;
	enum mode mode;
	uint8_t *stream = NULL;
	long before, after;
	size_t buffered = 0;
	int c;
	size_t heap_before;

	/* Before OpenSSL allocates anything. */
	if (CRYPTO_set_mem_functions(counted_malloc, counted_realloc, counted_free) != 1)
		errx(1, "cannot count OpenSSL's allocations");

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'p': pki = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'm': mode_name = optarg; break;
		case 'd': declared = strtoul(optarg, NULL, 10); break;
		case 'x': max_handshake = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (pki == NULL || count == 0)
		errx(2, "usage: eap_memory --pki DIR [--count N] [--mode half-open|hello|reassembly] "
		        "[--declare BYTES] [--max-handshake BYTES]");
	if (strcmp(mode_name, "half-open") == 0)
		mode = MODE_HALF_OPEN;
	else if (strcmp(mode_name, "hello") == 0)
		mode = MODE_HELLO;
	else if (strcmp(mode_name, "reassembly") == 0)
		mode = MODE_REASSEMBLY;
	else
		errx(2, "unknown mode %s", mode_name);
	if (declared == 0)
		declared = mode == MODE_REASSEMBLY ? 65536 : 131396;
	if (declared > 0xffffff || (mode == MODE_REASSEMBLY && declared < 2))
		errx(2, "--declare out of range");
	settings.max_handshake_message = max_handshake;
	snprintf(cert, sizeof(cert), "%s/server.pem", pki);
	snprintf(key, sizeof(key), "%s/server.key", pki);
	snprintf(ca, sizeof(ca), "%s/ca-bundle.pem", pki);
	ctx = eap_tls_context_new(&settings, msg, sizeof(msg));
	if (ctx == NULL)
		errx(1, "%s", msg);
	if (mode == MODE_REASSEMBLY) {
		stream = malloc(declared);
		if (stream == NULL)
			err(1, "malloc");
		app_data_stream(stream, declared);
	}
	convs = calloc(count, sizeof(*convs));
	if (convs == NULL)
		err(1, "calloc");
	before = rss_kb();
	heap_before = openssl_bytes;
	for (unsigned long i = 0; i < count; i++) {
		convs[i] = eap_conversation_new(ctx, 1014);
		if (convs[i] == NULL)
			errx(1, "out of memory after %lu conversations", i);
		if (drive(convs[i], mode, (uint32_t)declared, stream) != EAP_STEP_SEND) {
			/* Ended at once: authd forgets such a conversation. */
			eap_conversation_free(convs[i]);
			convs[i] = NULL;
			refused++;
		}
	}
	after = rss_kb();
	for (unsigned long i = 0; i < count; i++)
		buffered += convs[i] != NULL ? eap_conversation_buffered(convs[i]) : 0;
	printf("mode=%s count=%lu declared=%lu refused=%lu rss_before_kb=%ld rss_after_kb=%ld "
	       "kb_per_conversation=%.1f openssl_kb_per_conversation=%.1f buffered_kb_per_conversation=%.1f\n",
	       mode_name, count, declared, refused, before, after, (double)(after - before) / (double)count,
	       (double)(openssl_bytes - heap_before) / 1024.0 / (double)count,
	       (double)buffered / 1024.0 / (double)count);
	for (unsigned long i = 0; i < count; i++)
		eap_conversation_free(convs[i]);
	free(convs);
	free(stream);
	eap_tls_context_free(ctx);
	return 0;
}
