#include "common/json_buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(struct json_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void put_str(struct json_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/*
 * The length of the valid UTF-8 sequence (RFC 3629 section 4) at the start of
 * s, or 0 when its first byte begins none. s is NUL-terminated and a NUL is
 * never a continuation byte, so no read goes past the terminator.
 */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;               /* a continuation byte, C0/C1 (overlong) or F5..FF */
	/* The second byte's range rules out overlong forms, surrogates and
	 * code points above U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * RFC 8259 string escaping: control bytes and bytes that are not part of
 * valid UTF-8 become \u00XX (the byte's value kept visible, the line valid
 * JSON). With a string cap, the escaped content stops at a whole character
 * or escape before the cap and ends with the cut mark.
 */
static void put_quoted(struct json_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t max = b->limits.string_bytes, used = 0;

	put(b, "\"", 1);
	while (*p != '\0') {
		const char *unit = (const char *)p;
		size_t n = 1, in = 1;
		char esc[8];

		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			unit = esc;
			n = 2;
		} else if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && (in = utf8_len(p)) == 0)) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			unit = esc;
			n = 6;
			in = 1;
		} else {
			n = in;
		}
		if (max > 0 && used + n > max) {
			put(b, JSON_BUF_CUT_MARK, strlen(JSON_BUF_CUT_MARK));
			b->cuts++;
			break;
		}
		put(b, unit, n);
		used += n;
		p += in;
	}
	put(b, "\"", 1);
}

static void put_key(struct json_buf *b, const char *key)
{
	if (b->need_comma)
		put(b, ",", 1);
	put_quoted(b, key);
	put(b, ":", 1);
	b->need_comma = true;
}

void json_buf_begin(struct json_buf *b)
{
	memset(b, 0, sizeof(*b));
	put(b, "{", 1);
}

void json_buf_set_limits(struct json_buf *b, const struct json_buf_limits *limits)
{
	b->limits = *limits;
}

void json_buf_string(struct json_buf *b, const char *key, const char *value)
{
	if (value == NULL) {
		json_buf_null(b, key);
		return;
	}
	put_key(b, key);
	put_quoted(b, value);
}

void json_buf_uint(struct json_buf *b, const char *key, uint64_t value)
{
	char num[24];

	put_key(b, key);
	snprintf(num, sizeof(num), "%" PRIu64, value);
	put_str(b, num);
}

void json_buf_bool(struct json_buf *b, const char *key, bool value)
{
	put_key(b, key);
	put_str(b, value ? "true" : "false");
}

void json_buf_null(struct json_buf *b, const char *key)
{
	put_key(b, key);
	put_str(b, "null");
}

void json_buf_object_begin(struct json_buf *b, const char *key)
{
	put_key(b, key);
	put(b, "{", 1);
	b->need_comma = false;
}

void json_buf_object_end(struct json_buf *b)
{
	put(b, "}", 1);
	b->need_comma = true;
}

void json_buf_array_begin(struct json_buf *b, const char *key)
{
	put_key(b, key);
	put(b, "[", 1);
	b->need_comma = false;
	b->array_start = b->len;
	b->array_items = 0;
	b->array_full = false;
}

void json_buf_array_string(struct json_buf *b, const char *value)
{
	size_t mark = b->len;
	bool comma = b->need_comma;

	if (b->array_full)
		return;
	if (b->limits.array_items > 0 && b->array_items >= b->limits.array_items)
		goto full;
	if (comma)
		put(b, ",", 1);
	put_quoted(b, value);
	b->need_comma = true;
	if (b->limits.array_bytes > 0 && !b->failed && b->len - b->array_start > b->limits.array_bytes) {
		/* Over the cap: this entry goes again, and so do the rest. */
		b->len = mark;
		b->data[mark] = '\0';
		b->need_comma = comma;
		goto full;
	}
	b->array_items++;
	return;
full:
	b->array_full = true;
	b->cuts++;
}

void json_buf_array_end(struct json_buf *b)
{
	put(b, "]", 1);
	b->need_comma = true;
}

char *json_buf_finish(struct json_buf *b)
{
	put(b, "}\n", 2);
	if (b->failed) {
		free(b->data);
		b->data = NULL;
	}
	return b->data;
}
