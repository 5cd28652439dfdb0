/*
 * Outsiders' bytes (a NAS's attributes, Redis values, a responder's headers)
 * made fit for a log or terminal line: printable ASCII is kept and every
 * other byte, NUL included, becomes '?', so nothing an outsider sends can
 * forge a line or drive a terminal.
 */
#ifndef COMMON_PRINTABLE_H
#define COMMON_PRINTABLE_H

#include <stddef.h>

/* The first n bytes of in, at most outlen - 1 of them, NUL-terminated (out
 * untouched when outlen is 0). */
void printable_bytes(char *out, size_t outlen, const char *in, size_t n);
/* The same for the NUL-terminated string in. */
void printable_string(char *out, size_t outlen, const char *in);

#endif
