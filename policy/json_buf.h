/*
 * A growing buffer for writing one JSON object. Errors are sticky: after an
 * allocation failure every call is a no-op and json_buf_finish() returns NULL,
 * so callers need no error check per field.
 */
#ifndef AUTHD_JSON_BUF_H
#define AUTHD_JSON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_buf {
	char *data;
	size_t len, cap;
	bool failed;
	bool need_comma;
};

void json_buf_begin(struct json_buf *b);                 /* writes "{" */
void json_buf_string(struct json_buf *b, const char *key, const char *value); /* NULL -> null */
void json_buf_uint(struct json_buf *b, const char *key, uint64_t value);
void json_buf_bool(struct json_buf *b, const char *key, bool value);
void json_buf_null(struct json_buf *b, const char *key);
void json_buf_object_begin(struct json_buf *b, const char *key);
void json_buf_object_end(struct json_buf *b);
void json_buf_array_begin(struct json_buf *b, const char *key);
void json_buf_array_string(struct json_buf *b, const char *value);
void json_buf_array_end(struct json_buf *b);
/* Writes "}\n" and returns the malloc'd line (caller frees), or NULL. */
char *json_buf_finish(struct json_buf *b);

#endif
