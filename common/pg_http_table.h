/* pg_http_table.h — pg_http's routing table (internal to the pg_http library): route patterns
 * parsed into segments, and the lookup of a request's method and path.
 *
 * A pattern is "/" then segments separated by "/", each a literal or a "{name}" capture with an
 * optional literal suffix ("{Sid}.json"). Matching is exact per segment (no prefix routes, no
 * trailing-slash folding); routes are tried in the order added. Filled before the server starts
 * and read-only after, so lookups from MHD's threads need no lock. */
#ifndef PG_HTTP_TABLE_H
#define PG_HTTP_TABLE_H

#include "pg_http.h"

#include <stdbool.h>
#include <stddef.h>

#define PG_HTTP_TABLE_MAX_ROUTES   64
#define PG_HTTP_TABLE_MAX_SEGMENTS 12
#define PG_HTTP_TABLE_MAX_CAPTURES 4

typedef struct {
    char *literal; /* whole segment, or the suffix after "}" for a capture */
    bool capture;
} pg_http_segment_t;

typedef struct {
    pg_http_route_t route; /* method and pattern point into the strings below */
    char method[16];
    pg_http_segment_t segments[PG_HTTP_TABLE_MAX_SEGMENTS];
    size_t n_segments;
} pg_http_entry_t;

/* Zero-initialised means empty. */
typedef struct {
    pg_http_entry_t entries[PG_HTTP_TABLE_MAX_ROUTES];
    size_t n_entries;
} pg_http_table_t;

/* Parses and appends route (strings copied). Returns 0, or -1 on a bad pattern or method, a
 * missing handler, a full table, or out of memory. */
int pg_http_table_add(pg_http_table_t *t, const pg_http_route_t *route);

/* Frees what the table allocated; it is empty after. */
void pg_http_table_release(pg_http_table_t *t);

/* The first route matching method and path, its captures malloc'd into caps (*n_caps of them;
 * the caller frees them), or NULL with *path_known telling 405 (some route has the path) from
 * 404. A capture that cannot be allocated makes the route not match. */
const pg_http_route_t *pg_http_table_find(const pg_http_table_t *t, const char *method,
                                          const char *path, char *caps[PG_HTTP_TABLE_MAX_CAPTURES],
                                          size_t *n_caps, bool *path_known);

#endif
