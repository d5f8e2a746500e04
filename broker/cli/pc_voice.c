/* pc_voice.c — pregonctl voice numbers (see pc_voice.h). */
#include "pc_voice.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vc_pool.h"

static void s_usage(FILE *to) {
    fprintf(to, "usage: pregonctl voice numbers list --pools FILE [--retired FILE]\n"
                "       pregonctl voice numbers retire NUMBER --pools FILE [--retired FILE] "
                "[--reason TEXT]\n"
                "       pregonctl voice numbers restore NUMBER --pools FILE [--retired FILE]\n"
                "  the retired list defaults to POOLS.retired (pregon-voice's --retired)\n");
}

static void s_print(void *ctx, const char *tenant, const char *campaign, const char *number,
                    const char *area, bool retired) {
    (void)ctx;
    printf("%s\t%s\t%s\t%s\t%s\n", tenant, campaign, number, area[0] ? area : "-",
           retired ? "retired" : "active");
}

int pc_voice_main(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[1], "numbers") != 0) {
        s_usage(stderr);
        return 2;
    }
    const char *verb = argv[2], *pools = NULL, *retired = NULL, *reason = "retired by operator";
    static const struct option opts[] = {{"pools", required_argument, NULL, 'p'},
                                         {"retired", required_argument, NULL, 'r'},
                                         {"reason", required_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 3;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'p')
            pools = optarg;
        else if (opt == 'r')
            retired = optarg;
        else if (opt == 'w')
            reason = optarg;
        else {
            s_usage(opt == 'h' ? stdout : stderr);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!pools) {
        s_usage(stderr);
        return 2;
    }
    char rpath[4096], err[512];
    snprintf(rpath, sizeof rpath, "%s%s", retired ? retired : pools, retired ? "" : ".retired");
    if (!strcmp(verb, "list") && optind == argc) {
        vc_pool_t *p = vc_pool_new(pools, rpath, err, sizeof err);
        if (!p) {
            fprintf(stderr, "pregonctl voice: %s\n", err);
            return 1;
        }
        vc_pool_each(p, s_print, NULL);
        vc_pool_destroy(&p);
        return 0;
    }
    if ((strcmp(verb, "retire") && strcmp(verb, "restore")) || optind + 1 != argc) {
        s_usage(stderr);
        return 2;
    }
    bool retire = !strcmp(verb, "retire");
    int rc = vc_pool_retire_file(rpath, argv[optind], retire, reason, (int64_t)time(NULL), err,
                                 sizeof err);
    if (rc < 0) {
        fprintf(stderr, "pregonctl voice: %s\n", err);
        return 1;
    }
    printf("%s %s%s\n", argv[optind], retire ? "retired" : "restored", rc == 1 ? " (already)" : "");
    return 0;
}
