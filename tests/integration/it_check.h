/* it_check.h — the integration tests' CHECK: counts a passed or failed check, says where a
 * failure is, and lets the test go on; each program ends with "N passed, M failed". */
#ifndef IT_CHECK_H
#define IT_CHECK_H

#include <stdio.h>

static int s_passed, s_failed;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            s_passed++;                                                                            \
        } else {                                                                                   \
            s_failed++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#endif
