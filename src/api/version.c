#include "threeway.h"

/* The project's version, from CMake, so the library and its package never disagree. */
const char *tw_version(void)
{
	return TW_VERSION_STRING;
}
