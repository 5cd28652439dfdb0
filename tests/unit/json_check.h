/*
 * An independent check that a line is one valid JSON value (RFC 8259) in
 * valid UTF-8 (RFC 3629), for the tests and the fuzz target of the JSON
 * writer: it shares no code with common/json_buf.c, so a bug there cannot
 * hide itself here. Header-only (static functions) so both can include it.
 */
#ifndef AUTHD_TEST_JSON_CHECK_H
#define AUTHD_TEST_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct json_check {
	const unsigned char *p, *end;
	int depth;
};

static bool json_check_value(struct json_check *c);

static void json_check_space(struct json_check *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

static bool json_check_literal(struct json_check *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* One UTF-8 sequence of a code point, strictly (Table 3-7 of Unicode). */
static bool json_check_utf8(struct json_check *c)
{
	const unsigned char *p = c->p;
	size_t left = (size_t)(c->end - p), n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return false;
	if (left < n)
		return false;
	lo = p[0] == 0xe0 ? 0xa0 : p[0] == 0xf0 ? 0x90 : 0x80;
	hi = p[0] == 0xed ? 0x9f : p[0] == 0xf4 ? 0x8f : 0xbf;
	if (p[1] < lo || p[1] > hi)
		return false;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return false;
	c->p += n;
	return true;
}

static bool json_check_string(struct json_check *c)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	c->p++;
	while (c->p < c->end) {
		unsigned char ch = *c->p;

		if (ch == '"') {
			c->p++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch >= 0x80) {
			if (!json_check_utf8(c))
				return false;
			continue;
		}
		c->p++;
		if (ch != '\\')
			continue;
		if (c->p >= c->end)
			return false;
		ch = *c->p++;
		if (ch == 'u') {
			for (int i = 0; i < 4; i++, c->p++)
				if (c->p >= c->end || strchr("0123456789abcdefABCDEF", *c->p) == NULL || *c->p == 0)
					return false;
		} else if (strchr("\"\\/bfnrt", ch) == NULL || ch == 0) {
			return false;
		}
	}
	return false;
}

static bool json_check_digits(struct json_check *c)
{
	const unsigned char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > start;
}

static bool json_check_number(struct json_check *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (!json_check_digits(c))
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!json_check_digits(c))
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!json_check_digits(c))
			return false;
	}
	return true;
}

/* An object (close '}', members key:value) or an array (close ']'). */
static bool json_check_container(struct json_check *c, unsigned char close)
{
	bool first = true;

	if (++c->depth > 64)
		return false;
	c->p++;
	for (;;) {
		json_check_space(c);
		if (c->p < c->end && *c->p == close && first) {
			c->p++;
			break;
		}
		if (close == '}') {
			if (!json_check_string(c))
				return false;
			json_check_space(c);
			if (c->p >= c->end || *c->p++ != ':')
				return false;
		}
		if (!json_check_value(c))
			return false;
		json_check_space(c);
		first = false;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == close) {
			c->p++;
			break;
		}
		return false;
	}
	c->depth--;
	return true;
}

static bool json_check_value(struct json_check *c)
{
	json_check_space(c);
	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '{':
		return json_check_container(c, '}');
	case '[':
		return json_check_container(c, ']');
	case '"':
		return json_check_string(c);
	case 't':
		return json_check_literal(c, "true");
	case 'f':
		return json_check_literal(c, "false");
	case 'n':
		return json_check_literal(c, "null");
	default:
		return json_check_number(c);
	}
}

/* True when s (len bytes) is one JSON value followed by exactly one '\n'. */
static inline bool json_check_line(const char *s, size_t len)
{
	struct json_check c = { .p = (const unsigned char *)s, .end = (const unsigned char *)s + len };

	if (len == 0 || s[len - 1] != '\n' || memchr(s, '\n', len - 1) != NULL)
		return false;
	c.end--;
	if (!json_check_value(&c))
		return false;
	return c.p == c.end;
}

#endif
