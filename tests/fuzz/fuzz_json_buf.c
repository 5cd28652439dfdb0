/*
 * libFuzzer target for the JSON writer of the decision log (common/json_buf.h)
 * on the strings an outsider puts in a record. The input's first two bytes
 * choose the caps; the rest, split at NUL bytes, are strings written as
 * fields and as array entries. Whatever they hold, the line must be valid
 * JSON in valid UTF-8 (checked by tests/unit/json_check.h, which shares no
 * code with the writer) and stay within the bound the caps promise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "common/json_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_buf_limits limits;
	struct json_buf b;
	char *copy, *s, *end, *line;
	size_t n_strings = 0, len, bound;

	if (size < 2)
		return 0;
	limits = (struct json_buf_limits){
		.string_bytes = data[0] & 0x7f,       /* 0: no cap */
		.array_items = data[1] & 0x0f,
		.array_bytes = (size_t)(data[1] >> 4) * 64,
	};
	copy = malloc(size - 2 + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 2, size - 2);
	copy[size - 2] = '\0';
	end = copy + size - 2;

	json_buf_begin(&b);
	json_buf_set_limits(&b, &limits);
	for (s = copy; s <= end; s += strlen(s) + 1, n_strings++)
		json_buf_string(&b, "f", s);
	json_buf_array_begin(&b, "a");
	for (s = copy; s <= end; s += strlen(s) + 1)
		json_buf_array_string(&b, s);
	json_buf_array_end(&b);
	line = json_buf_finish(&b);
	if (line == NULL)
		goto out;
	len = strlen(line);
	if (!json_check_line(line, len))
		abort();
	/* The caps' promise: each field's content within the cap and the mark
	 * (`"f":""` plus a comma around it), the array within its byte cap. */
	if (limits.string_bytes > 0 && limits.array_bytes > 0) {
		bound = strlen("{,\"a\":[]}\n") +
		        n_strings * (strlen(",\"f\":\"\"") + limits.string_bytes + strlen(JSON_BUF_CUT_MARK)) +
		        limits.array_bytes;
		if (len > bound)
			abort();
	}
	free(line);
out:
	free(copy);
	return 0;
}
