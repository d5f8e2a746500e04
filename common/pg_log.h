/* pg_log.h — one timestamped, escaped, bounded log line per notable event (interim version;
 * the full module with masking replaces it). */
#ifndef PG_LOG_H
#define PG_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void pg_log_init(const char *program);
void pg_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *pg_log_quote(char *buf, size_t len, const char *text, size_t max);
const char *pg_log_mask(char *buf, size_t len, const char *contact);

#endif
