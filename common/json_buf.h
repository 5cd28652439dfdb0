/*
 * A growing buffer for writing one JSON object. Errors are sticky: after an
 * allocation failure every call is a no-op and json_buf_finish() returns NULL,
 * so callers need no error check per field.
 *
 * Whatever bytes a string holds, the output is valid JSON in valid UTF-8:
 * '"', '\\', control bytes (0x00-0x1f, 0x7f) are escaped, valid UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF)
 * passes through, and every other byte 0xXX is written as \u00XX, so its
 * value stays visible in the log (a reader sees it as the Latin-1 character
 * of that value).
 */
#ifndef COMMON_JSON_BUF_H
#define COMMON_JSON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Caps on what is written after json_buf_set_limits(), for records that carry
 * outsiders' data; 0 means no cap.
 * string_bytes: the escaped content of one string (between its quotes); a
 *   longer string is cut at a character (or escape) boundary and ends with
 *   JSON_BUF_CUT_MARK, so its escaped content is at most string_bytes +
 *   strlen(JSON_BUF_CUT_MARK).
 * array_items, array_bytes: entries and bytes (between the brackets) of one
 *   array of strings; entries that would go beyond are left out.
 * Every string cut and every array shortened adds one to json_buf.cuts.
 */
struct json_buf_limits {
	size_t string_bytes;
	size_t array_items;
	size_t array_bytes;
};

/* U+2026 HORIZONTAL ELLIPSIS, in UTF-8: ends a string that was cut. */
#define JSON_BUF_CUT_MARK "\xe2\x80\xa6"

struct json_buf {
	char *data;
	size_t len, cap;
	bool failed;
	bool need_comma;
	struct json_buf_limits limits;
	size_t array_start;         /* offset after the '[' of the array being written */
	size_t array_items;
	bool array_full;            /* an entry was left out: the rest are too */
	unsigned cuts;              /* strings cut and arrays shortened so far */
};

void json_buf_begin(struct json_buf *b);                 /* writes "{"; no limits */
void json_buf_set_limits(struct json_buf *b, const struct json_buf_limits *limits);
void json_buf_string(struct json_buf *b, const char *key, const char *value); /* NULL -> null */
void json_buf_uint(struct json_buf *b, const char *key, uint64_t value);
void json_buf_bool(struct json_buf *b, const char *key, bool value);
void json_buf_null(struct json_buf *b, const char *key);
void json_buf_object_begin(struct json_buf *b, const char *key);
void json_buf_object_end(struct json_buf *b);
/* Arrays of strings, one at a time (no nesting). */
void json_buf_array_begin(struct json_buf *b, const char *key);
void json_buf_array_string(struct json_buf *b, const char *value);
void json_buf_array_end(struct json_buf *b);
/* Writes "}\n" and returns the malloc'd line (caller frees), or NULL. */
char *json_buf_finish(struct json_buf *b);

#endif
