/* nsc-gencluster: write a synthetic cluster as kubectl's List JSON and the static
 * backend's groups file (or, with --provider=exoscale, the Exoscale emulator's world),
 * for benchmarks and demos. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

int
main(int argc, char **argv)
{
    struct gen_params p;
    gen_defaults(&p);
    const char *snap = NULL, *groups = NULL, *world = NULL;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i], *v = strchr(a, '=');
        if (!v) {
            fprintf(stderr, "%s: expected --name=value, got %s\n", argv[0], a);
            return 2;
        }
        v++;
        unsigned long n = strtoul(v, NULL, 10);
        if (strncmp(a, "--nodes=", 8) == 0)
            p.nodes = (uint32_t)n;
        else if (strncmp(a, "--groups=", 9) == 0)
            p.groups = (uint32_t)n;
        else if (strncmp(a, "--pods-per-node=", 16) == 0)
            p.pods_per_node = (uint32_t)n;
        else if (strncmp(a, "--pending=", 10) == 0)
            p.pending = (uint32_t)n;
        else if (strncmp(a, "--anti-pct=", 11) == 0)
            p.anti_pct = (uint32_t)n;
        else if (strncmp(a, "--identical=", 12) == 0)
            p.identical = (int)n;
        else if (strncmp(a, "--snapshot=", 11) == 0)
            snap = v;
        else if (strncmp(a, "--groups-file=", 14) == 0)
            groups = v;
        else if (strncmp(a, "--world-file=", 13) == 0)
            world = v;
        else if (strcmp(a, "--provider=exoscale") == 0)
            p.exoscale = 1;
        else if (strcmp(a, "--provider=static") == 0)
            p.exoscale = 0;
        else if (strncmp(a, "--provider=", 11) == 0) {
            fprintf(stderr, "%s: --provider: '%s' is neither static nor exoscale\n", argv[0],
                    v);
            return 2;
        } else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], a);
            return 2;
        }
    }
    if (!snap || !p.groups || (p.exoscale ? !world || groups : !groups || world)) {
        fprintf(stderr,
                "usage: %s --snapshot=FILE (--groups-file=FILE | --provider=exoscale "
                "--world-file=FILE) [--nodes=N] [--groups=G] [--pods-per-node=N] [--pending=P] "
                "[--anti-pct=N] [--identical=1]\n",
                argv[0]);
        return 2;
    }
    const char *second = p.exoscale ? world : groups;
    FILE *fs = fopen(snap, "w"), *fg = fopen(second, "w");
    if (!fs || !fg) {
        fprintf(stderr, "%s: cannot open %s for writing\n", argv[0], !fs ? snap : second);
        return 1;
    }
    int rc = p.exoscale ? gen_write(&p, fs, NULL) : gen_write(&p, fs, fg);
    if (rc == 0 && p.exoscale)
        rc = gen_write_world(&p, fg);
    if (fclose(fs) != 0 || fclose(fg) != 0)
        rc = -1;
    return rc < 0 ? 1 : 0;
}
