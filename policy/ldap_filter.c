#include "policy/ldap_filter.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char *data;
	size_t len, cap;
};

static int put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 128;
		char *p;

		while (cap < o->len + n + 1)
			cap *= 2;
		p = realloc(o->data, cap);
		if (p == NULL)
			return -1;
		o->data = p;
		o->cap = cap;
	}
	memcpy(o->data + o->len, s, n);
	o->len += n;
	o->data[o->len] = '\0';
	return 0;
}

/* RFC 4515 §3: these five may not appear raw in an assertion value. */
static int put_escaped(struct out *o, const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		char hex[4];

		if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0') {
			snprintf(hex, sizeof(hex), "\\%02x", c);
			if (put(o, hex, 3) < 0)
				return -1;
		} else if (put(o, (const char *)&value[i], 1) < 0) {
			return -1;
		}
	}
	return 0;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The template must be one parenthesized filter whose own parentheses
 * balance, its escapes whole (\HH), and its variables in assertion values
 * (after the '=' of an item): otherwise the value would decide the filter's
 * shape or what it asks about, e.g. "(cn=%{identity})(uid=x)" is not one
 * filter, in "(cn=\%{identity})" the value's first bytes would complete an
 * escape, and in "(%{identity}=x)" the certificate would name the attribute. */
static int well_formed(const char *template)
{
	int depth = 0;
	bool in_value = false;

	if (template[0] != '(')
		return 0;
	for (const char *p = template; *p != '\0'; p++) {
		if (depth == 0 && p != template)
			return 0;   /* text after the closing parenthesis */
		if (*p == '\\') {
			if (!is_hex(p[1]) || !is_hex(p[2]))
				return 0;
			p += 2;
		} else if (*p == '(') {
			depth++;
			in_value = false;
		} else if (*p == ')') {
			if (--depth < 0)
				return 0;
			in_value = false;
		} else if (*p == '=') {
			in_value = true;
		} else if (*p == '%' && p[1] == '{' && !in_value) {
			return 0;
		}
	}
	return depth == 0;
}

char *ldap_filter_expand(const char *template, const char *const *names,
                         const char *const *values, const size_t *value_lengths, size_t n)
{
	struct out o = { 0 };
	const char *p = template;

	if (!well_formed(template))
		return NULL;
	while (*p != '\0') {
		const char *open = strstr(p, "%{"), *close;
		size_t i;

		if (open == NULL) {
			if (put(&o, p, strlen(p)) < 0)
				goto fail;
			break;
		}
		close = strchr(open, '}');
		if (close == NULL || put(&o, p, (size_t)(open - p)) < 0)
			goto fail;
		for (i = 0; i < n; i++) {
			if (strlen(names[i]) == (size_t)(close - open - 2) &&
			    strncmp(names[i], open + 2, (size_t)(close - open - 2)) == 0)
				break;
		}
		if (i == n || put_escaped(&o, values[i], value_lengths[i]) < 0)
			goto fail;
		p = close + 1;
	}
	if (o.data == NULL && put(&o, "", 0) < 0)
		goto fail;
	return o.data;
fail:
	free(o.data);
	return NULL;
}
