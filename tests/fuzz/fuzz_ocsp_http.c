/*
 * libFuzzer target for the HTTP client's response reader as the OCSP client
 * uses it (common/http_client.h: http_response_head, http_reader_feed, with
 * policy/ocsp_check.h's type and limits): what it makes of the bytes a
 * responder sends. The DER body is fuzz_ocsp's.
 *
 * Input: byte 0 seeds the sizes of the reads; the rest is what the responder
 * sends before closing. The stream is fed as it would arrive, in reads of
 * varying sizes, then at once: both must come to the same verdict and body
 * (a response's meaning cannot depend on how TCP cut it). A body is inside
 * the buffer, non-empty, within OCSP_CHECK_MAX_RESPONSE, and exactly
 * Content-Length bytes when the head gives one. The head parser is also run
 * alone on the raw bytes (no blank line needed). Every refusal says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_client.h"
#include "policy/ocsp_check.h"

struct verdict {
	enum http_reader_state state;
	size_t off, len;
	long content_length;
};

static struct verdict read_all(const uint8_t *data, size_t size, uint32_t seed, bool chunked)
{
	struct http_reader r;
	struct verdict v = { .state = HTTP_READER_MORE };
	size_t len = 0;
	char why[256];

	http_reader_init(&r, OCSP_CHECK_RESPONSE_TYPE, OCSP_CHECK_MAX_RESPONSE);
	while (v.state == HTTP_READER_MORE) {
		bool closed = len == size;

		if (!closed) {
			size_t n = size - len;

			if (chunked) {
				seed = seed * 1103515245u + 12345u;
				n = 1 + (seed >> 16) % (seed & 0x100 ? 8 : 3000);
				if (n > size - len)
					n = size - len;
			}
			len += n;
		}
		why[0] = '\0';
		v.state = http_reader_feed(&r, data, len, closed, &v.off, &v.len, why, sizeof(why));
		if (v.state == HTTP_READER_REFUSED && (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL))
			abort();
		if (v.state == HTTP_READER_MORE && (closed || len >= OCSP_CHECK_MAX_HTTP))
			abort();   /* nothing more can come */
	}
	v.content_length = r.content_length;
	if (v.state == HTTP_READER_DONE) {
		if (v.len == 0 || v.len > OCSP_CHECK_MAX_RESPONSE || v.off != r.head || v.off + v.len > len)
			abort();
		if (r.content_length >= 0 && v.len != (size_t)r.content_length)
			abort();
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict a, b;
	long cl;
	char why[256];
	char *head;

	if (size < 1)
		return 0;
	if (size - 1 > OCSP_CHECK_MAX_HTTP)
		size = OCSP_CHECK_MAX_HTTP + 1;
	/* A copy of exactly the head's size, so ASan sees any read past it. */
	head = malloc(size - 1 ? size - 1 : 1);
	if (head == NULL)
		return 0;
	memcpy(head, data + 1, size - 1);
	why[0] = '\0';
	if (http_response_head(head, size - 1, OCSP_CHECK_RESPONSE_TYPE, OCSP_CHECK_MAX_RESPONSE, &cl, why,
	                       sizeof(why)) < 0) {
		if (why[0] == '\0')
			abort();
	} else if (cl < -1 || cl > OCSP_CHECK_MAX_RESPONSE) {
		abort();
	}
	a = read_all((const uint8_t *)head, size - 1, data[0], true);
	b = read_all((const uint8_t *)head, size - 1, 0, false);
	if (a.state != b.state || a.content_length != b.content_length ||
	    (a.state == HTTP_READER_DONE && (a.off != b.off || a.len != b.len)))
		abort();
	free(head);
	return 0;
}
