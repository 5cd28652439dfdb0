#include "policy/json_buf.h"

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

/* RFC 8259 string escaping; control bytes become \u00XX. Bytes >= 0x80 pass
 * through, so invalid UTF-8 from a certificate stays visible rather than lost. */
static void put_quoted(struct json_buf *b, const char *s)
{
	put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(b, esc, 6);
		} else {
			put(b, s, 1);
		}
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
}

void json_buf_array_string(struct json_buf *b, const char *value)
{
	if (b->need_comma)
		put(b, ",", 1);
	put_quoted(b, value);
	b->need_comma = true;
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
