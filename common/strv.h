/* Arrays of malloc'd strings, as config lists, group lists and directory
 * answers are kept. */
#ifndef COMMON_STRV_H
#define COMMON_STRV_H

#include <stddef.h>

/* Frees the n strings of v and v itself; v may be NULL. */
void strv_free(char **v, size_t n);

#endif
