/* The canned-answer cloud of fuzz_exo.h. */
#define _GNU_SOURCE 1 /* memmem */
#include "config.h"

#include "fuzz_exo.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "exo_fake_host.h"
#include "fuzz_backend.h"
#include "fuzz_common.h"

#define FUZZ_EXO_SECRET "fuzz-secret-0123456789abcdefghijklmnopq"
#define FUZZ_EXO_MAX_ANSWERS 32
/* A backend that keeps asking (pagination, retries) gets refused connections after
 * this many requests: an input must never make a run hang. */
#define FUZZ_EXO_MAX_REQUESTS 256

struct answer {
    char path[128];
    long status;
    char retry_after[32];
    char *body; /* NUL-terminated, inside the input copy */
};

static struct fake_host fh;
static struct answer answers[FUZZ_EXO_MAX_ANSWERS];
static size_t n_answers, n_requests;
static const struct nsc_backend_ops *real;

static void
parse_answers(char *text)
{
    char *p = text;

    n_answers = 0;
    while ((p = strstr(p, "@@ ")) != NULL && n_answers < FUZZ_EXO_MAX_ANSWERS) {
        struct answer *a = &answers[n_answers];
        char *eol, *next;
        if (p != text && p[-1] != '\n') {
            p += 3;
            continue;
        }
        eol = strchr(p, '\n');
        if (eol == NULL)
            break;
        *eol = '\0';
        a->path[0] = a->retry_after[0] = '\0';
        a->status = 200;
        if (sscanf(p + 3, "%127s %ld %31s", a->path, &a->status, a->retry_after) < 1)
            a->path[0] = '\0';
        a->body = eol + 1;
        next = strstr(a->body, "\n@@ ");
        if (next != NULL)
            next[0] = '\0';
        n_answers++;
        if (next == NULL)
            break;
        p = next + 1;
    }
}

static struct fake_reply
route(struct fake_host *h, const char *method, const char *url)
{
    struct fake_reply r = {.status = 404, .body = "{\"message\":\"no canned answer\"}"};
    const char *path = strstr(url, "/v2");
    size_t best = 0, i, plen;

    (void)h;
    (void)method;
    if (++n_requests > FUZZ_EXO_MAX_REQUESTS) {
        r.transport_error = NSC_ERR_TRANSIENT;
        return r;
    }
    path = path ? path + 3 : url;
    plen = strcspn(path, "?");
    for (i = 0; i < n_answers; i++) {
        size_t n = strlen(answers[i].path);
        if (n > best && n <= plen && strncmp(path, answers[i].path, n) == 0) {
            best = n;
            r.status = answers[i].status;
            r.body = answers[i].body;
            r.retry_after = answers[i].retry_after[0] ? answers[i].retry_after : NULL;
        }
    }
    return r;
}

/* The real create, then retries sleep on the fake clock instead of the wall clock. */
static int
fake_create(const struct nsc_host *host, const struct nsc_option *opts, size_t n_opts,
            struct nsc_backend **out, char *errbuf, size_t errbuf_len)
{
    int rc = real->create(host, opts, n_opts, out, errbuf, errbuf_len);

    if (rc == NSC_OK) {
        (*out)->client.sleep = fake_host_sleep;
        (*out)->client.sleep_ctx = &fh;
    }
    return rc;
}

/* A loop later: operations started by the previous pass are due for a poll. */
static int
later_refresh(struct nsc_backend *b)
{
    fake_host_sleep(&fh, 60000);
    return real->refresh(b);
}

void
fuzz_exo_run(const struct nsc_backend_ops *ops, const uint8_t *data, size_t size)
{
    struct nsc_backend_ops wrapped = *ops;
    char *text = fuzz_cstr(data, size);
    const char *secret;

    fuzz_quiet();
    real = ops;
    wrapped.create = fake_create;
    wrapped.refresh = later_refresh;
    parse_answers(text);
    n_requests = 0;
    fake_host_init(&fh, 1700000000000);
    fh.route = route;
    fake_host_opt(&fh, "api-key", "EXO0123456789abcdef01234567");
    fake_host_opt(&fh, "api-secret", FUZZ_EXO_SECRET);
    fake_host_opt(&fh, "zone", "ch-gva-2");
    /* A cloud answer that quotes the secret (the fuzzer learns it from the comparisons)
     * may be quoted back in an error: only a secret the input does not hold is a leak. */
    secret =
        memmem(data, size, FUZZ_EXO_SECRET, strlen(FUZZ_EXO_SECRET)) ? NULL : FUZZ_EXO_SECRET;
    fuzz_backend_drive(&wrapped, &fh.host, NULL, 0, secret);
    if (secret != NULL && strstr(fh.log, secret) != NULL)
        fuzz_fail("the backend logged the API secret");
    free(text);
}
