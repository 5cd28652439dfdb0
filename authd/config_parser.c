#include "authd/config_parser.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int config_parser_read(struct config_parser *p, const char *path)
{
	char *copy = strdup(path);

	p->file = path;
	p->err[0] = '\0';
	config_init(&p->cf);
	if (copy == NULL || (p->dir = strdup(dirname(copy))) == NULL) {
		free(copy);
		snprintf(p->err, p->errlen, "%s: out of memory", path);
		return -1;
	}
	free(copy);
	/* A file shared by authd.conf and authctl.conf (the clients) is found
	 * wherever the command runs. */
	config_set_include_dir(&p->cf, p->dir);
	if (config_read_file(&p->cf, path) == CONFIG_TRUE)
		return 0;
	if (config_error_type(&p->cf) == CONFIG_ERR_FILE_IO)
		snprintf(p->err, p->errlen, "%s: cannot read: %s", path, strerror(errno));
	else
		snprintf(p->err, p->errlen, "%s:%d: %s", config_error_file(&p->cf) ? config_error_file(&p->cf) : path,
		         config_error_line(&p->cf), config_error_text(&p->cf));
	return -1;
}

/* Every string value of s and below wiped: libconfig frees its copies of
 * the values, inline secrets among them, without wiping them. */
static void wipe_strings(config_setting_t *s)
{
	const char *value;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		value = config_setting_get_string(s);
		if (value != NULL)
			explicit_bzero((char *)value, strlen(value));
		break;
	case CONFIG_TYPE_GROUP:
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		for (int i = 0; i < config_setting_length(s); i++)
			wipe_strings(config_setting_get_elem(s, (unsigned)i));
		break;
	}
}

void config_parser_close(struct config_parser *p)
{
	if (config_root_setting(&p->cf) != NULL)
		wipe_strings(config_root_setting(&p->cf));
	config_destroy(&p->cf);
	free(p->dir);
	p->dir = NULL;
}

int config_parser_fail(struct config_parser *p, const config_setting_t *where, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "%s:%d: ", p->file,
	                 where != NULL ? (int)config_setting_source_line(where) : 0);

	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Unknown keys are errors: a misspelt "require_client_eku" silently ignored
 * would leave a security check in a state the admin did not choose. */
int config_parser_check_keys(struct config_parser *p, const config_setting_t *group, const char *where,
                             const char *const allowed[])
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		bool known = false;

		for (size_t k = 0; allowed[k] != NULL && !known; k++)
			known = strcmp(name, allowed[k]) == 0;
		if (!known)
			return config_parser_fail(p, s, "unknown setting \"%s\" in %s", name, where);
	}
	return 0;
}

int config_parser_group(struct config_parser *p, const config_setting_t *parent, const char *key,
                            bool required, const config_setting_t **out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);

	*out = NULL;
	if (s == NULL)
		return required ? config_parser_fail(p, parent, "missing required group \"%s\"", key) : 0;
	if (!config_setting_is_group(s))
		return config_parser_fail(p, s, "\"%s\" must be a group { ... }", key);
	*out = s;
	return 0;
}

int config_parser_string(struct config_parser *p, const config_setting_t *group, const char *key,
                             bool required, const char **out)
{
	const config_setting_t *s = config_setting_get_member(group, key);

	*out = NULL;
	if (s == NULL)
		return required ? config_parser_fail(p, group, "missing required setting \"%s\"", key) : 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return config_parser_fail(p, s, "\"%s\" must be a string", key);
	*out = config_setting_get_string(s);
	if ((*out)[0] == '\0')
		return config_parser_fail(p, s, "\"%s\" must not be empty", key);
	return 0;
}

/* Leaves *out untouched (the default) when the key is absent. */
int config_parser_uint(struct config_parser *p, const config_setting_t *group, const char *key,
                           long long min, long long max, unsigned *out)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	long long v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return config_parser_fail(p, s, "\"%s\" must be an integer", key);
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return config_parser_fail(p, s, "\"%s\" is %lld, must be %lld..%lld", key, v, min, max);
	*out = (unsigned)v;
	return 0;
}

int config_parser_bool(struct config_parser *p, const config_setting_t *group, const char *key, bool *out)
{
	const config_setting_t *s = config_setting_get_member(group, key);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return config_parser_fail(p, s, "\"%s\" must be true or false", key);
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

char *config_parser_resolve(const struct config_parser *p, const char *value)
{
	char *path;

	if (value[0] == '/')
		return strdup(value);
	if (asprintf(&path, "%s/%s", p->dir, value) < 0)
		return NULL;
	return path;
}

/* A file authd must read at startup: resolved and proven readable now. */
int config_parser_input_file(struct config_parser *p, const config_setting_t *group, const char *key,
                                 char **out)
{
	const char *value;
	FILE *f;

	if (config_parser_string(p, group, key, true, &value) < 0)
		return -1;
	*out = config_parser_resolve(p, value);
	if (*out == NULL)
		return config_parser_fail(p, group, "out of memory");
	f = fopen(*out, "r");
	if (f == NULL)
		return config_parser_fail(p, config_setting_get_member(group, key), "%s: cannot read %s: %s",
		                   key, *out, strerror(errno));
	fclose(f);
	return 0;
}

int config_parser_secret_file(struct config_parser *p, const config_setting_t *group, const char *key,
                              char **out)
{
	const config_setting_t *where = config_setting_get_member(group, key);
	const char *value;
	char *path = NULL;
	char buf[256];
	struct stat st;
	size_t n = 0;
	FILE *f;
	int rc = -1;

	if (config_parser_string(p, group, key, true, &value) < 0)
		return -1;
	path = config_parser_resolve(p, value);
	if (path == NULL)
		return config_parser_fail(p, where, "out of memory");
	f = fopen(path, "r");
	if (f == NULL) {
		config_parser_fail(p, where, "%s: cannot read %s: %s", key, path, strerror(errno));
		goto out;
	}
	/* A secret others can read is no secret: refuse, as ssh does with keys. */
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & (p->secrets_group_readable ? 007 : 077)) != 0) {
		fclose(f);
		config_parser_fail(p, where, "%s %s is readable by others (mode %04o): chmod %s it",
		                   key, path, (unsigned)(st.st_mode & 07777),
		                   p->secrets_group_readable ? "640" : "600");
		goto out;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (n == 0 || strlen(buf) != n) {
		config_parser_fail(p, where, "%s %s must hold one non-empty line of text", key, path);
		goto out;
	}
	*out = strdup(buf);
	rc = *out != NULL ? 0 : config_parser_fail(p, where, "out of memory");
out:
	explicit_bzero(buf, sizeof(buf));
	free(path);
	return rc;
}

int config_parser_private_file(struct config_parser *p, const config_setting_t *where, const char *path,
                               const char *what, const char *hint)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return config_parser_fail(p, where, "%s: cannot stat %s: %s", what, path, strerror(errno));
	if ((st.st_mode & S_IROTH) != 0)
		return config_parser_fail(p, where, "%s: %s is readable by others (mode %04o): %s",
		                          what, path, (unsigned)(st.st_mode & 07777), hint);
	return 0;
}

int config_parser_inline_secret(struct config_parser *p, const config_setting_t *group, const char *key,
                                const char **out)
{
	const config_setting_t *where = config_setting_get_member(group, key);
	const char *file, *section = config_setting_name(group);
	char what[128], hint[128], *path;
	int rc;

	if (config_parser_string(p, group, key, false, out) < 0)
		return -1;
	if (*out == NULL)
		return 0;
	/* The file it was read from: the config, or a file it @includes. */
	file = config_setting_source_file(where);
	/* Client entries are anonymous groups inside the "clients" list. */
	if (section == NULL && config_setting_parent(group) != NULL)
		section = config_setting_name(config_setting_parent(group));
	snprintf(what, sizeof(what), "%s.%s is written inline", section != NULL ? section : "", key);
	snprintf(hint, sizeof(hint), "chmod o-r it, or keep the secret in %s_file", key);
	if (file == NULL || strcmp(file, p->file) == 0)
		return config_parser_private_file(p, where, p->file, what, hint);
	/* An @include names its file relative to the config's directory. */
	if ((path = config_parser_resolve(p, file)) == NULL)
		return config_parser_fail(p, where, "out of memory");
	rc = config_parser_private_file(p, where, path, what, hint);
	free(path);
	return rc;
}

int config_parser_string_list(struct config_parser *p, const config_setting_t *group, const char *key,
                              bool required, char ***out, size_t *n)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	int len;

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return required ? config_parser_fail(p, group, "missing required setting \"%s\"", key) : 0;
	if (!config_setting_is_array(s) || (len = config_setting_length(s)) == 0)
		return config_parser_fail(p, s, "\"%s\" must be a non-empty array [ \"...\", ... ]", key);
	*out = calloc((size_t)len, sizeof(**out));
	if (*out == NULL)
		return config_parser_fail(p, s, "out of memory");
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);

		if (v == NULL || v[0] == '\0')
			return config_parser_fail(p, s, "\"%s\" must hold non-empty strings", key);
		(*out)[i] = strdup(v);
		if ((*out)[i] == NULL)
			return config_parser_fail(p, s, "out of memory");
		(*n)++;
	}
	return 0;
}
