/*
 * Local time for the tracer, as tcpdump prints it.
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "cli.h"

uint32_t cli_local_time_of_day(int64_t unix_sec, void *ctx)
{
	(void)ctx;
	time_t t = (time_t)unix_sec;
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return (uint32_t)(((unix_sec % 86400) + 86400) % 86400);
	return (uint32_t)(tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
}
