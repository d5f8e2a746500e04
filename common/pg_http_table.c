/* pg_http_table.c — route patterns and lookup (see pg_http_table.h). A linear scan: a process
 * has a few dozen routes, and a segment compare is a memcmp. */
#include "pg_http_table.h"

#include <stdlib.h>
#include <string.h>

int pg_http_table_add(pg_http_table_t *t, const pg_http_route_t *route) {
    const char *method = route->method, *pattern = route->pattern;
    if (t->n_entries == PG_HTTP_TABLE_MAX_ROUTES || !route->handler || !method || !pattern ||
        pattern[0] != '/' || strlen(method) >= sizeof(((pg_http_entry_t *)0)->method))
        return -1;
    pg_http_entry_t *e = &t->entries[t->n_entries];
    *e = (pg_http_entry_t){.route = *route};
    strcpy(e->method, method);
    e->route.method = e->method;
    e->route.pattern = NULL; /* not kept */
    size_t captures = 0;
    const char *p = pattern + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (e->n_segments == PG_HTTP_TABLE_MAX_SEGMENTS)
            goto fail;
        pg_http_segment_t *seg = &e->segments[e->n_segments];
        if (len > 0 && p[0] == '{') {
            const char *close = memchr(p, '}', len);
            if (!close || ++captures > PG_HTTP_TABLE_MAX_CAPTURES)
                goto fail;
            seg->capture = true;
            seg->literal = strndup(close + 1, len - (size_t)(close + 1 - p));
        } else {
            seg->literal = strndup(p, len);
        }
        if (!seg->literal)
            goto fail;
        e->n_segments++;
        if (!slash)
            break;
        p = slash + 1;
    }
    t->n_entries++;
    return 0;
fail:
    for (size_t k = 0; k < e->n_segments; k++)
        free(e->segments[k].literal);
    return -1;
}

void pg_http_table_release(pg_http_table_t *t) {
    for (size_t i = 0; i < t->n_entries; i++) {
        for (size_t k = 0; k < t->entries[i].n_segments; k++)
            free(t->entries[i].segments[k].literal);
    }
    t->n_entries = 0;
}

/* Matches path against e, filling caps when not NULL. */
static bool s_matches(const pg_http_entry_t *e, const char *path,
                      char *caps[PG_HTTP_TABLE_MAX_CAPTURES], size_t *n_caps) {
    if (path[0] != '/')
        return false;
    const char *p = path + 1;
    size_t n = 0;
    char *got[PG_HTTP_TABLE_MAX_CAPTURES] = {0};
    for (size_t i = 0; i < e->n_segments; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        bool last = i + 1 == e->n_segments;
        if (last != (slash == NULL))
            goto no;
        const pg_http_segment_t *seg = &e->segments[i];
        size_t lit = strlen(seg->literal);
        if (seg->capture) {
            if (len <= lit || memcmp(p + len - lit, seg->literal, lit) != 0)
                goto no;
            if (caps && !(got[n++] = strndup(p, len - lit)))
                goto no;
        } else if (len != lit || memcmp(p, seg->literal, len) != 0) {
            goto no;
        }
        p = slash ? slash + 1 : p + len;
    }
    if (caps) {
        memcpy(caps, got, sizeof got);
        *n_caps = n;
    }
    return true;
no:
    for (size_t k = 0; k < n; k++)
        free(got[k]);
    return false;
}

const pg_http_route_t *pg_http_table_find(const pg_http_table_t *t, const char *method,
                                          const char *path, char *caps[PG_HTTP_TABLE_MAX_CAPTURES],
                                          size_t *n_caps, bool *path_known) {
    *path_known = false;
    *n_caps = 0;
    for (size_t i = 0; i < t->n_entries; i++) {
        const pg_http_entry_t *e = &t->entries[i];
        if (strcmp(e->method, method) != 0) {
            if (!*path_known && s_matches(e, path, NULL, NULL))
                *path_known = true;
            continue;
        }
        if (s_matches(e, path, caps, n_caps))
            return &e->route;
    }
    return NULL;
}
