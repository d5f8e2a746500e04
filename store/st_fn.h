/* st_fn.h — loads pregon's Function library (store/pregon.lua, embedded) and calls it.
 *
 * The library is loaded with FUNCTION LOAD REPLACE when Redis does not have this build's
 * version (first start, an upgrade, a Redis that restarted empty); a call that finds the
 * library missing loads it and is made again. Uses a borrowed synchronous hiredis context;
 * errors are returned, with st_fn_strerror. Not thread-safe (one per connection). */
#ifndef ST_FN_H
#define ST_FN_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

typedef struct st_fn st_fn_t;

/* A caller on a borrowed connection. Returns NULL on allocation failure. */
st_fn_t *st_fn_new(redisContext *redis);
/* Destroys; accepts NULL; nulls the caller's pointer. */
void st_fn_destroy(st_fn_t **self_p);

/* Loads the library unless Redis already has this version. Returns 0, or -1. */
int st_fn_ensure(st_fn_t *self);

/* This build's library version (a hash of its source). */
const char *st_fn_version(void);

/* Calls FCALL with argv[2..argc) (argv[0] and argv[1] are set here to "FCALL" and `name`;
 * argl may hold (size_t)-1 for NUL-terminated strings). Loads the library and calls again if
 * it is missing. Returns the reply (caller frees), or NULL after setting the error, also when
 * Redis answers with an error. */
redisReply *st_fn_call(st_fn_t *self, const char *name, int argc, const char **argv, size_t *argl);

/* Pipelining: appends the same call without reading its reply. */
int st_fn_append(st_fn_t *self, const char *name, int argc, const char **argv, size_t *argl);

/* A pipeline of `calls` calls of `name`: call c's arguments are argv[at[c] .. at[c] + argc[c])
 * (argl alike, as st_fn_call takes them). Appends them all, reads every reply in order, and only
 * then makes again, one by one, the calls whose reply says the library is missing (so the
 * connection never falls out of step). out[c] receives call c's reply (the caller frees it), or
 * NULL when it has none (the connection failed, or Redis answered an error: st_fn_strerror).
 * Returns 0, or -1 when some call has no reply. */
int st_fn_pipeline(st_fn_t *self, const char *name, size_t calls, const int *argc, const size_t *at,
                   const char **argv, size_t *argl, redisReply **out);

/* True when a reply says the library or function is missing (Redis lost it): load and redo. */
bool st_fn_is_missing(const redisReply *reply);

/* Records `what` and the reply's or connection's error as the last error. */
void st_fn_seterr(st_fn_t *self, const char *what, const redisReply *reply);
/* The last error, "" if none. */
const char *st_fn_strerror(const st_fn_t *self);

/* The embedded library source (with %VERSION% still in it). */
extern const char st_pregon_lua[];

#endif
