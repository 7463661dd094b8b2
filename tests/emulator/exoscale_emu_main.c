/* exoscale-emulator: serve the Exoscale API v2 stand-in on 127.0.0.1 until SIGINT/SIGTERM.
 * Usage: exoscale-emulator --world FILE [--port N] [--port-file FILE] [--op-delay-ms N]
 *        [--boot-delay-ms N] [--node-ready-delay-ms N] [--kube-url URL
 *        [--kube-token-file FILE] [--kube-ca-file FILE] [--kube-insecure]] */
#include "config.h"

#include "exoscale_emu.h"

#include <curl/curl.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
usage(void)
{
    fprintf(stderr, "usage: exoscale-emulator --world FILE [--port N] [--port-file FILE]\n"
                    "       [--op-delay-ms N] [--boot-delay-ms N] [--node-ready-delay-ms N]\n"
                    "       [--kube-url URL [--kube-token-file FILE] [--kube-ca-file FILE] "
                    "[--kube-insecure]]\n");
    return 2;
}

static int
parse_ms(const char *flag, const char *v, int64_t *out)
{
    char *end;
    long long n = strtoll(v, &end, 10);

    if (*v == '\0' || *end != '\0' || n < 0) {
        fprintf(stderr, "exoscale-emulator: %s: '%s' is not a number of milliseconds\n", flag,
                v);
        return -1;
    }
    *out = n;
    return 0;
}

static char *
read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[4096];
    size_t n;

    if (f == NULL)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    return strdup(buf);
}

int
main(int argc, char **argv)
{
    struct exo_emu_opts o;
    const char *world = NULL, *port_file = NULL, *token_file = NULL;
    struct exo_emu *emu = NULL;
    json_error_t jerr;
    json_t *w;
    char err[512], *token = NULL;
    sigset_t set;
    int i, sig;
    int64_t port = 0;

    memset(&o, 0, sizeof(o));
    o.op_delay_ms = 200;
    o.boot_delay_ms = 500;
    o.node_ready_delay_ms = 1000;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--kube-insecure") == 0) {
            o.kube_insecure = 1;
            continue;
        }
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--world") == 0)
            world = v;
        else if (strcmp(a, "--port") == 0) {
            if (parse_ms(a, v, &port) < 0 || port > 65535)
                return usage();
        } else if (strcmp(a, "--port-file") == 0)
            port_file = v;
        else if (strcmp(a, "--op-delay-ms") == 0) {
            if (parse_ms(a, v, &o.op_delay_ms) < 0)
                return 2;
        } else if (strcmp(a, "--boot-delay-ms") == 0) {
            if (parse_ms(a, v, &o.boot_delay_ms) < 0)
                return 2;
        } else if (strcmp(a, "--node-ready-delay-ms") == 0) {
            if (parse_ms(a, v, &o.node_ready_delay_ms) < 0)
                return 2;
        } else if (strcmp(a, "--kube-url") == 0)
            o.kube_url = v;
        else if (strcmp(a, "--kube-token-file") == 0)
            token_file = v;
        else if (strcmp(a, "--kube-ca-file") == 0)
            o.kube_ca_file = v;
        else
            return usage();
    }
    if (world == NULL)
        return usage();
    w = json_load_file(world, 0, &jerr);
    if (w == NULL) {
        fprintf(stderr, "exoscale-emulator: %s:%d: %s\n", world, jerr.line, jerr.text);
        return 1;
    }
    if (token_file != NULL) {
        token = read_token(token_file);
        if (token == NULL) {
            fprintf(stderr, "exoscale-emulator: cannot read --kube-token-file %s\n",
                    token_file);
            json_decref(w);
            return 1;
        }
        o.kube_token = token;
    }
    o.port = (uint16_t)port;
    o.state = w;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* Block the signals before threads start, so that only sigwait sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (exo_emu_start(&o, &emu, err, sizeof(err)) < 0) {
        fprintf(stderr, "exoscale-emulator: %s\n", err);
        json_decref(w);
        free(token);
        return 1;
    }
    json_decref(w);
    printf("exoscale-emulator: listening on http://127.0.0.1:%u/v2\n",
           (unsigned)exo_emu_port(emu));
    fflush(stdout);
    if (port_file != NULL) {
        FILE *f = fopen(port_file, "w");

        if (f != NULL) {
            fprintf(f, "%u\n", (unsigned)exo_emu_port(emu));
            fclose(f);
        }
    }
    sigwait(&set, &sig);
    exo_emu_stop(emu);
    free(token);
    curl_global_cleanup();
    return 0;
}
