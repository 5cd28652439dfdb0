#include "common/printable.h"

#include <string.h>

void printable_bytes(char *out, size_t outlen, const char *in, size_t n)
{
	size_t i;

	if (outlen == 0)
		return;
	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

void printable_string(char *out, size_t outlen, const char *in)
{
	printable_bytes(out, outlen, in, strnlen(in, outlen));
}
