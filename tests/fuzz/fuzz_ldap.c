/*
 * libFuzzer target for the pure parts of the directory client
 * (policy/ldap_directory.h): filter templates expanded with hostile values,
 * and the group DNs read from a directory's answer.
 *
 * Input: byte 0 selects the mode; the rest is the payload.
 *   even: filter expansion. The payload up to its first NUL is the template
 *         (hostile too: it comes from a config); after it, two values split
 *         at the first 0xff byte (NUL bytes allowed: a value has a length),
 *         for %{identity} and %{dn}.
 *   odd:  group DNs, one per '\n'-separated piece (NUL bytes allowed), added
 *         to one result with a cap of (byte 0 >> 1) % 32 groups.
 * Promises checked, by a parser here that shares no code with policy/:
 *   - every expansion is NULL or a filter with valid escapes (\HH), no raw
 *     NUL, balanced parentheses starting with '(';
 *   - the values cannot change the filter's shape: its unescaped '(' ')' '*'
 *     are those of the same template expanded with harmless values;
 *   - if that harmless expansion is a valid RFC 4515 filter, so is this one;
 *   - the group list holds no empty, NUL-holding or (case-insensitively)
 *     duplicate DN, never more than the cap, and is freed whole.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/ldap_directory.h"
#include "policy/ldap_filter.h"

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The filter's shape: its unescaped '(' ')' '*', in order; false on a bad escape. */
static bool shape(const char *f, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *f != '\0'; f++) {
		if (*f == '\\') {
			if (!is_hex(f[1]) || !is_hex(f[2]))
				return false;
			f += 2;
		} else if (*f == '(' || *f == ')' || *f == '*') {
			if (n + 1 >= outlen)
				return false;
			out[n++] = *f;
		}
	}
	out[n] = '\0';
	return true;
}

/* One parenthesized filter: the depth returns to 0 at the last character only. */
static bool balanced(const char *s)
{
	int depth = 0;

	if (s[0] != '(')
		return false;
	for (; *s != '\0'; s++) {
		if (depth == 0 && s[0] != '(')
			return false;
		if (*s == '(')
			depth++;
		else if (*s == ')' && --depth == 0 && s[1] != '\0')
			return false;
	}
	return depth == 0;
}

/* RFC 4515, strictly enough to tell a filter from a broken one. */
static bool filter(const char **p);

static bool attr_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == ';';
}

static bool attr(const char **p)
{
	const char *s = *p;

	while (attr_char(**p))
		(*p)++;
	return *p > s;
}

/* assertionvalue; '*' allowed where a substring filter may have it. */
static bool value(const char **p, bool star)
{
	for (;; (*p)++) {
		char c = **p;

		if (c == '\\') {
			if (!is_hex((*p)[1]) || !is_hex((*p)[2]))
				return false;
			*p += 2;
		} else if (c == '*' && !star) {
			return false;
		} else if (c == '\0' || c == '(' || c == ')' || (c == '*' && !star)) {
			return true;
		}
	}
}

static bool item(const char **p)
{
	bool has_attr = attr(p);

	if (**p == ':') {   /* extensible: attr [":dn"] [":" rule] ":=" value */
		if (strncasecmp(*p, ":dn", 3) == 0 && ((*p)[3] == ':'))
			*p += 3;
		if ((*p)[0] == ':' && (*p)[1] != '=') {
			(*p)++;
			if (!attr(p))
				return false;
		} else if (!has_attr) {
			return false;
		}
		if ((*p)[0] != ':' || (*p)[1] != '=')
			return false;
		*p += 2;
		return value(p, false);
	}
	if (!has_attr)
		return false;
	if (**p == '=') {
		(*p)++;
		return value(p, true);
	}
	if ((**p == '~' || **p == '>' || **p == '<') && (*p)[1] == '=') {
		*p += 2;
		return value(p, false);
	}
	return false;
}

static bool filter(const char **p)
{
	if (**p != '(')
		return false;
	(*p)++;
	if (**p == '&' || **p == '|') {
		(*p)++;
		while (**p == '(')
			if (!filter(p))
				return false;
	} else if (**p == '!') {
		(*p)++;
		if (!filter(p))
			return false;
	} else if (!item(p)) {
		return false;
	}
	if (**p != ')')
		return false;
	(*p)++;
	return true;
}

static bool rfc4515(const char *f)
{
	return filter(&f) && *f == '\0';
}

static void expansion(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "identity", "dn" };
	static const char *const harmless[] = { "x", "x" };
	static const size_t harmless_len[] = { 1, 1 };
	char *buf = malloc(size + 1), *f = NULL, *plain = NULL, *sep;
	char *shape_f = malloc(size * 3 + 2), *shape_plain = malloc(size * 3 + 2);
	const char *values[2];
	size_t lengths[2], tlen, rest;

	if (buf == NULL || shape_f == NULL || shape_plain == NULL)
		goto out;
	memcpy(buf, data, size);
	buf[size] = '\0';
	tlen = strlen(buf);
	values[0] = tlen < size ? buf + tlen + 1 : buf + size;
	rest = (size_t)(buf + size - values[0]);
	sep = memchr(values[0], 0xff, rest);
	lengths[0] = sep != NULL ? (size_t)(sep - values[0]) : rest;
	values[1] = sep != NULL ? sep + 1 : buf + size;
	lengths[1] = (size_t)(buf + size - values[1]);

	f = ldap_filter_expand(buf, names, values, lengths, 2);
	plain = ldap_filter_expand(buf, names, harmless, harmless_len, 2);
	if ((f == NULL) != (plain == NULL))
		abort();   /* only the template decides whether it expands */
	if (f == NULL)
		goto out;
	if (!shape(f, shape_f, size * 3 + 2) || !balanced(shape_f))
		abort();
	if (!shape(plain, shape_plain, size * 3 + 2) || strcmp(shape_f, shape_plain) != 0)
		abort();   /* a value changed the filter's shape */
	if (rfc4515(plain) && !rfc4515(f))
		abort();
out:
	free(f);
	free(plain);
	free(shape_f);
	free(shape_plain);
	free(buf);
}

static void groups(unsigned cap, const uint8_t *data, size_t size)
{
	struct ldap_lookup_result res = { 0 };
	const uint8_t *p = data, *end = data + size;

	while (p <= end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		size_t before = res.n_groups;
		int rc = ldap_lookup_result_add_group(&res, (const char *)p, len, cap);

		if (rc == 1 && res.n_groups != before + 1)
			abort();
		if (rc != 1 && res.n_groups != before)
			abort();
		if (rc == -2 && before != cap)
			abort();
		if (rc == 1 && (len == 0 || memchr(p, '\0', len) != NULL || strlen(res.groups[before]) != len ||
		                memcmp(res.groups[before], p, len) != 0))
			abort();
		if (rc == -1)
			break;
		p += len + 1;
	}
	if (res.n_groups > cap)
		abort();
	for (size_t i = 0; i < res.n_groups; i++) {
		if (res.groups[i][0] == '\0')
			abort();
		for (size_t j = i + 1; j < res.n_groups; j++)
			if (strcasecmp(res.groups[i], res.groups[j]) == 0)
				abort();
	}
	ldap_lookup_result_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		groups((data[0] >> 1) % 32, data + 1, size - 1);
	else
		expansion(data + 1, size - 1);
	return 0;
}
