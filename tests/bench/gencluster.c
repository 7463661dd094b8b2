/* nsc-gencluster: write a synthetic cluster as kubectl's List JSON and the static
 * backend's groups file, for benchmarks and demos. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

int
main(int argc, char **argv)
{
    struct gen_params p;
    gen_defaults(&p);
    const char *snap = NULL, *groups = NULL;
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
        else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], a);
            return 2;
        }
    }
    if (!snap || !groups || !p.groups) {
        fprintf(stderr,
                "usage: %s --snapshot=FILE --groups-file=FILE [--nodes=N] [--groups=G] "
                "[--pods-per-node=N] [--pending=P] [--anti-pct=N] [--identical=1]\n",
                argv[0]);
        return 2;
    }
    FILE *fs = fopen(snap, "w"), *fg = fopen(groups, "w");
    if (!fs || !fg) {
        perror("open");
        return 1;
    }
    int rc = gen_write(&p, fs, fg);
    if (fclose(fs) != 0 || fclose(fg) != 0)
        rc = -1;
    return rc < 0 ? 1 : 0;
}
