/* pg_secret.h — reading a secret from a file that only its owner may read.
 *
 * Secrets (a CURVE secret key, a Redis password, a provider token) live in files, never on a
 * command line (ps shows it) and never in a log. A secret file must be a regular file that
 * neither its group nor others may read or write (mode 0600 or 0400): anything looser is refused
 * with a reason naming the file and its mode, never its content. Errors are returned, never
 * printed; the caller wipes the buffer (explicit_bzero) when done. */
#ifndef PG_SECRET_H
#define PG_SECRET_H

#include <stddef.h>

/* Checks path's permissions as above. Returns 0, or -1 with a reason in err. */
int pg_secret_check_mode(const char *path, char *err, size_t err_len);

/* Reads the whole of path (mode checked first) into buf, NUL-terminated, with trailing blank
 * lines and line ends removed. Returns the length, or -1 with a reason in err: unreadable, loose
 * mode, empty, or longer than len - 1 bytes. buf is wiped on every failure. */
long pg_secret_read(const char *path, char *buf, size_t len, char *err, size_t err_len);

#endif
