/* libFuzzer target: kubeconfig YAML (kube/config.h), loaded from a scratch file, alone
 * and merged with itself, with the current context and a named one. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "kube/config.h"

static void
load(const char *paths, const char *context)
{
    struct kube_config *cfg = NULL;
    char err[1024] = "";
    int rc = kube_config_load_kubeconfig(paths, context, &cfg, err, sizeof(err));

    fuzz_need_reason(rc, err, "kube_config_load_kubeconfig");
    if (rc == 0) {
        if (cfg == NULL || cfg->server == NULL || cfg->namespace == NULL)
            fuzz_fail("a loaded kubeconfig lacks its server or namespace");
        /* A server is scheme://host[:port] without a trailing '/'. */
        if (strstr(cfg->server, "://") == NULL || cfg->server[strlen(cfg->server) - 1] == '/')
            fuzz_fail("server \"%s\" is not scheme://host[:port]", cfg->server);
    }
    kube_config_free(cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path;
    char both[600];

    fuzz_quiet();
    path = fuzz_file(data, size, ".kubeconfig");
    load(path, NULL);
    load(path, "fuzz");
    snprintf(both, sizeof(both), "%s:%s", path, path);
    load(both, NULL);
    fuzz_quiet();
    return 0;
}
