/* The nodescaler daemon's entry point: flags, logging set-up, then one pass (--once) or
 * the control loop until SIGTERM. Exit status: 0 success, 1 failure at run time, 2 bad
 * command line. */
#include "config.h"

#include "log.h"
#include "loop/daemon.h"
#include "nsc_config.h"
#include "once.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
    struct nsc_config cfg;
    char err[2048] = "";
    int rc, status = EXIT_FAILURE;

    if (config_init(&cfg) < 0) {
        fputs("nodescaler: out of memory\n", stderr);
        config_free(&cfg);
        return EXIT_FAILURE;
    }
    rc = config_parse(&cfg, argc, argv, err, sizeof(err));
    if (rc == NSC_ERR_INVALID) {
        fprintf(stderr, "nodescaler: %s (see --help)\n", err);
        status = CONFIG_EXIT_USAGE;
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, "nodescaler: %s\n", err);
        goto out;
    }
    if (cfg.show_help) {
        config_usage(stdout);
        status = EXIT_SUCCESS;
        goto out;
    }
    if (cfg.show_help_man) {
        config_man(stdout);
        status = EXIT_SUCCESS;
        goto out;
    }
    if (cfg.show_version) {
        printf("nodescaler %s (backend ABI %d.%d)\n", nsc_engine_version(), NSC_ABI_MAJOR,
               NSC_ABI_MINOR);
        status = EXIT_SUCCESS;
        goto out;
    }
    if (cfg.backend == NULL) {
        fputs("nodescaler: no backend: pass --backend=NAME or a path (see --help)\n", stderr);
        status = CONFIG_EXIT_USAGE;
        goto out;
    }
    log_set_format(cfg.logging_format);
    log_set_level(cfg.verbosity >= 4 ? NSC_LOG_DEBUG : NSC_LOG_INFO);
    config_warn_inactive(&cfg);
    if (cfg.once)
        rc = once_run(&cfg, stdout, err, sizeof(err));
    else
        rc = loop_daemon_run(&cfg, err, sizeof(err));
    if (rc < 0) {
        log_error("%s", err);
        goto out;
    }
    status = EXIT_SUCCESS;
out:
    config_free(&cfg);
    return status;
}
