/* A scripted host table for the Exoscale client tests: canned HTTP answers, recorded
 * requests, options, a fake clock that the retry sleeps advance. */
#ifndef EXO_FAKE_HOST_H
#define EXO_FAKE_HOST_H

#include <stdint.h>

#include <nodescaler/backend.h>

#define FAKE_MAX 64

/** One canned answer; transport_error makes host->http fail with that status instead. */
struct fake_reply {
    long status;
    const char *body;
    const char *retry_after;
    int transport_error;
    const char *location;
};

/** One request as the client sent it. */
struct fake_request {
    char method[8];
    char url[512];
    char auth[512];
    char content_type[64];
    char body[1024];
    int64_t at_ms;
};

struct fake_host {
    struct nsc_host host;
    int64_t now_ms;
    int64_t mono_ms;
    struct fake_reply replies[FAKE_MAX];
    size_t n_replies;
    size_t next_reply;
    struct fake_request reqs[FAKE_MAX];
    size_t n_reqs;
    struct nsc_option opts[32];
    size_t n_opts;
    char redacted[8][256];
    size_t n_redacted;
    char log[16384];
    /** When set, answers every request instead of the queue (strings borrowed). */
    struct fake_reply (*route)(struct fake_host *fh, const char *method, const char *url);
    struct fake_reply routed;
    /** Each request moves both clocks this much; -1: by the request's whole timeout. */
    int64_t http_takes_ms;
};

/** Zero fh and fill the host table; the clocks start at now_ms. */
void fake_host_init(struct fake_host *fh, int64_t now_ms);

/** Queue a canned answer (strings borrowed: use literals). */
void fake_host_reply(struct fake_host *fh, long status, const char *body,
                     const char *retry_after);

/** Queue a transport failure (status is the nsc_status host->http returns). */
void fake_host_fail(struct fake_host *fh, int status);

/** Add an option (borrowed strings). */
void fake_host_opt(struct fake_host *fh, const char *key, const char *value);

/** The sleep hook for exo_client: advances both clocks of the fake host (ctx). */
void fake_host_sleep(void *ctx, int64_t ms);

#endif
