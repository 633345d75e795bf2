#include "core/size.h"

#include <errno.h>
#include <stdlib.h>

int size_parse(const char *text, bool suffixes, uint64_t *r)
{
	char *end;
	unsigned shift = 0;
	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	if (suffixes && *end != '\0' && end[1] == '\0') {
		switch (*end++) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: return -1;
		}
	}
	if (*end != '\0' || n > (UINT64_MAX >> shift))
		return -1;
	*r = (uint64_t)n << shift;
	return 0;
}
