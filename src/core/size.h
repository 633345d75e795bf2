/* size: numbers as admins write them in config files and on the command
 * line: "1000", or with a K, M, G or T suffix (powers of 1024). */
#ifndef POSTHORN_SIZE_H
#define POSTHORN_SIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Parse the whole of text; suffixes only when `suffixes` is true.
 * Returns 0, or -1 for anything else, overflow included. */
int size_parse(const char *text, bool suffixes, uint64_t *r);

#endif
