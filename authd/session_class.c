#include "authd/session_class.h"

#include <stdio.h>
#include <string.h>

#include "authd/radius.h"

/* The MAC's input: the binding, a NUL (no client name or key contains one),
 * the ref. */
static int mac_input(const char *binding, const struct cert_ref *ref, char *out, size_t outlen)
{
	size_t n = strlen(binding);

	if (n + 1 >= outlen)
		return -1;
	memcpy(out, binding, n + 1);
	cert_ref_string(ref, out + n + 1, outlen - n - 1);
	return (int)(n + 1 + strlen(out + n + 1));
}

int session_class_ref_bind(const struct seal *seal, const char *purpose, const char *binding,
                           const struct cert_ref *ref, char *out, size_t outlen)
{
	char input[768], text[128], tag[SEAL_TAG_LEN + 1];
	int n = mac_input(binding, ref, input, sizeof(input));

	if (seal == NULL || n < 0 || seal_mac(seal, purpose, input, (size_t)n, tag) < 0)
		return -1;
	cert_ref_string(ref, text, sizeof(text));
	n = snprintf(out, outlen, "%s:%s", text, tag);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int session_class_make(const struct seal *seal, const char *nas, const struct cert_ref *ref,
                       char *out, size_t outlen)
{
	size_t prefix = strlen(RADIUS_AUTHD_CLASS_PREFIX);
	int n;

	if (outlen <= prefix)
		return -1;
	memcpy(out, RADIUS_AUTHD_CLASS_PREFIX, prefix);
	n = session_class_ref_bind(seal, "class", nas, ref, out + prefix, outlen - prefix);
	return n < 0 ? -1 : (int)prefix + n;
}

int session_class_parse(const uint8_t *value, size_t len, struct cert_ref *ref, const uint8_t **tag,
                        size_t *taglen)
{
	char text[128];
	const uint8_t *colon = NULL;

	memset(ref, 0, sizeof(*ref));
	*tag = NULL;
	*taglen = 0;
	for (size_t i = 0; i < len; i++) {
		if (value[i] == ':')
			colon = value + i;
	}
	if (colon == NULL || (size_t)(colon - value) >= sizeof(text))
		return -1;
	memcpy(text, value, (size_t)(colon - value));
	text[colon - value] = '\0';
	/* A NUL inside would end the text early: the ref must be all of it. */
	if (strlen(text) != (size_t)(colon - value) || cert_ref_parse(text, ref) < 0)
		return -1;
	*tag = colon + 1;
	*taglen = len - (size_t)(colon + 1 - value);
	return 0;
}

int session_class_ref_verify(const struct seal *seal, const char *purpose, const char *binding,
                             const uint8_t *value, size_t len, struct cert_ref *ref)
{
	char input[768];
	const uint8_t *tag;
	size_t taglen;
	int n;

	if (seal == NULL || session_class_parse(value, len, ref, &tag, &taglen) < 0 ||
	    (n = mac_input(binding, ref, input, sizeof(input))) < 0 ||
	    !seal_verify(seal, purpose, input, (size_t)n, (const char *)tag, taglen)) {
		memset(ref, 0, sizeof(*ref));
		return -1;
	}
	return 0;
}

int session_class_verify(const struct seal *seal, const char *nas, const uint8_t *value, size_t len,
                         struct cert_ref *ref)
{
	return session_class_ref_verify(seal, "class", nas, value, len, ref);
}
