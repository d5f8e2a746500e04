/* pc_time.h — RFC 3339 instants for pregonctl: parsing input and printing in a debtor's zone. */
#ifndef PC_TIME_H
#define PC_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "rl_tz.h"

/* Parses "YYYY-MM-DDTHH:MM:SS(Z|±HH:MM)" (a space may replace 'T'; fractional seconds are
 * accepted and dropped) into Unix seconds. Returns 0, or -1 if malformed. An offset is
 * required: an instant without one is ambiguous and refused. */
int pc_time_parse(const char *text, int64_t *out);

/* Writes t as RFC 3339 in zone z ("2025-03-10T07:00:00-05:00"); UTC with 'Z' if z is NULL. */
void pc_time_format(int64_t t, const rl_zone_t *z, char *buf, size_t len);

#endif
