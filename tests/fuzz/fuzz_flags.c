/* libFuzzer target: the command-line parser (nsc_config.h). The input is the argument
 * list, one argument per line; whatever it holds, config_parse must accept it or name
 * the problem, and never leak. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "nsc_config.h"

#define FUZZ_MAX_ARGS 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), *argv[FUZZ_MAX_ARGS + 2], *p = text;
    int argc = 1;
    struct nsc_config cfg;
    char err[512] = "";
    int rc;

    fuzz_quiet();
    argv[0] = (char *)"nodescaler";
    while (argc <= FUZZ_MAX_ARGS && *p != '\0') {
        char *nl = strchr(p, '\n');
        argv[argc++] = p;
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    if (config_init(&cfg) == 0) {
        rc = config_parse(&cfg, argc, argv, err, sizeof(err));
        fuzz_need_reason(rc, err, "config_parse");
    }
    config_free(&cfg);
    free(text);
    return 0;
}
