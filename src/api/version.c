#include "threeway.h"

const char *tw_version(void)
{
	return "0.1.0";
}
