/* rl_tz.h — IANA time zones for the quiet-hours decision: UTC instant <-> debtor's local time.
 *
 * Zones are read from TZif files (RFC 8536, versions 1-4) in the zoneinfo directory and parsed
 * by hand, including the POSIX TZ footer that governs instants after the last transition. A
 * loaded zone is immutable and every conversion is a pure, lock-free function, so any number of
 * threads may share zones. This module never touches TZ, tzset() or localtime_r(). Civil-date
 * arithmetic lives in rl_date.h; legal contact windows are decided elsewhere in ratelimit/.
 *
 * Instants are Unix seconds (leap seconds not counted; "right/" zones with leap-second records
 * are refused). Conversions are exact for instants within +-2^50 s (about +-35 million years);
 * beyond that inputs are clamped. */
#ifndef RL_TZ_H
#define RL_TZ_H

#include <stdint.h>

/* A loaded time zone. Immutable once loaded and safe to share between threads. */
typedef struct rl_zone rl_zone_t;

/* An instant broken down into the local civil time of a zone. */
typedef struct {
    int year, month, day; /* civil date, month 1..12, day 1..31 */
    int hour, min, sec;   /* 0..23, 0..59, 0..59 */
    int wday;             /* 0 = Monday .. 6 = Sunday */
    int64_t days;         /* local day number since 1970-01-01 (rl_days_from_civil) */
    int32_t sec_of_day;   /* hour*3600+min*60+sec */
    int32_t utc_offset;   /* seconds east of UTC in force */
    int is_dst;           /* 1 if daylight saving time is in force, else 0 */
} rl_local_t;

/* Returns the zone for an IANA name ("America/Bogota", "UTC") from the process-wide cache,
 * loading it on first use from $TZDIR if set, else /usr/share/zoneinfo. Thread-safe: lookups of
 * loaded zones are lock-free (an insert-only hash table of atomic pointers); only a first load
 * takes a mutex. The zone is borrowed and lives until process exit; never free it.
 * Returns NULL if the name is invalid (empty, over 255 characters, absolute, containing "..",
 * an empty path component, or characters outside [A-Za-z0-9/_+-]), unknown, or the file is
 * corrupt. Failures are not cached: each call with a bad name tries again. */
const rl_zone_t *rl_zone_get(const char *name);

/* Loads a zone from an explicit TZif file path, bypassing the cache and the name rules; `name`
 * is only recorded (rl_zone_name) and may be NULL, meaning `path`. Every length, count and index
 * in the file is validated. Returns NULL on I/O error or if the file is not well-formed TZif.
 * The caller owns the result and frees it with rl_zone_destroy. */
rl_zone_t *rl_zone_load_file(const char *path, const char *name);

/* Frees a zone from rl_zone_load_file and nulls the caller's pointer. Accepts NULL and a pointer
 * to NULL. Never call it on a zone from rl_zone_get. */
void rl_zone_destroy(rl_zone_t **self_p);

/* The zone's name as given when it was loaded. Borrowed; valid as long as the zone. */
const char *rl_zone_name(const rl_zone_t *z);

/* Offset in seconds east of UTC in force at instant t (Unix seconds). */
int32_t rl_zone_offset(const rl_zone_t *z, int64_t t);

/* Breaks instant t (Unix seconds) into the zone's local civil time; fills every field of *out. */
void rl_zone_local(const rl_zone_t *z, int64_t t, rl_local_t *out);

/* The earliest instant whose local wall-clock reading is >= local date `local_days` (days since
 * 1970-01-01) plus `sec_of_day` (0..86400; 86400 means the next day's midnight; other values are
 * accepted and simply added). Hence:
 * - normal time: the unique instant showing that reading;
 * - in a DST gap (local time skipped): the transition instant (first instant after the gap);
 * - in a repeated period (overlap): the FIRST occurrence.
 * This is what "the window opens at 07:00 local" means. */
int64_t rl_zone_from_local(const rl_zone_t *z, int64_t local_days, int32_t sec_of_day);

/* The first instant strictly after t at which the UTC offset or the DST flag changes, or
 * INT64_MAX if there is none. Changes of abbreviation alone are not transitions here. */
int64_t rl_zone_next_transition(const rl_zone_t *z, int64_t t);

#endif
