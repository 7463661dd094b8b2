/* The Kubernetes HTTP client: one connection setup (TLS, credentials, user agent) shared
 * by plain requests and watches, a QPS/burst token bucket, and error objects that carry
 * the HTTP status, the Status reason and message, and the decoded body. */
#ifndef NSC_KUBE_CLIENT_H
#define NSC_KUBE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "kube/config.h"

/** A clock the client and the informers read, so that tests can run on a fake one. */
struct kube_clock {
    int64_t (*now_ms)(void *ctx); /* monotonic milliseconds */
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *ctx;
};

/** The real monotonic clock. Static storage. */
const struct kube_clock *kube_clock_real(void);

/** Wall-clock time in milliseconds since the epoch (for timestamps written to the API). */
int64_t kube_wall_ms(void);

/** A token bucket: `qps` tokens a second, at most `burst` saved. */
struct kube_ratelimit {
    double qps;
    double burst;
    double tokens;
    int64_t last_ms;
};

/** Start full. qps <= 0 disables limiting. */
void kube_ratelimit_init(struct kube_ratelimit *rl, double qps, int burst, int64_t now_ms);

/** Take one token at now_ms; returns how many ms the caller must wait first (0: go). */
int64_t kube_ratelimit_take(struct kube_ratelimit *rl, int64_t now_ms);

/** A response, successful or not. Fields are filled whenever a response arrived. */
struct kube_resp {
    long status;        /* HTTP status; 0 when no response (transport failure) */
    json_t *obj;        /* owned: the decoded body (the object, list or Status); may be NULL */
    char reason[64];    /* Status.reason, or a transport reason ("Timeout", "Connect") */
    char message[512];  /* Status.message or the transport error; redacted */
    long retry_after_s; /* Retry-After header, else details.retryAfterSeconds, else 0 */
    char method[8];
    char path[256];     /* the request path, for messages (query cut at 200 chars) */
    char location[256]; /* a redirect's Location: query cut, credentials redacted */
};

/**
 * The name of an HTTP status: Kubernetes' StatusReason where the API server has one
 * ("NotFound"), else the HTTP reason phrase ("Found", "Bad Gateway"); "" when unknown.
 * Static storage.
 */
const char *kube_http_reason(long status);

/**
 * A Location header (loc_len bytes, not NUL-terminated) as it may be shown: the query and
 * fragment cut, user info in the authority and registered secrets redacted, control
 * characters blanked; "(no Location)" when empty. Writes buf (len bytes); returns buf.
 */
const char *kube_redirect_location(const char *loc, size_t loc_len, char *buf, size_t len);

/** Release resp->obj and clear the response for reuse. */
void kube_resp_clear(struct kube_resp *resp);

/**
 * Describe a failed response in one line: "PUT /api/v1/nodes/a: 409 Conflict: the object
 * has been modified". Redacted. Returns buf.
 */
const char *kube_resp_describe(const struct kube_resp *resp, char *buf, size_t len);

/** Client options; zero values mean the defaults in brackets. */
struct kube_client_opts {
    double qps;              /* --kube-api-qps [5]; negative: unlimited */
    int burst;               /* --kube-api-burst [10] */
    long timeout_ms;         /* whole non-watch request [30000]; at most 1 h */
    long connect_timeout_ms; /* TCP and TLS set-up [5000]; at most 10 min */
    /* A list or request that receives nothing for this long fails, whatever its total
     * deadline: the first byte of a slow list, a server that stops mid-body [30000]. */
    long stall_timeout_ms;
    long slow_ms;                   /* a request slower than this logs a warning [5000] */
    const char *user_agent;         /* ["nodescaler/VERSION"] */
    const struct kube_clock *clock; /* [kube_clock_real()] */
    int max_retries; /* retries of a 429/5xx carrying Retry-After, GET only [3] */
};

struct kube_client;

/**
 * Create a client for cfg (stolen: freed with the client, also on failure).
 * Returns 0, NSC_ERR_NOMEM, NSC_ERR_INVALID (err names the problem, or the option out of
 * range).
 */
int kube_client_new(struct kube_config *cfg, const struct kube_client_opts *opts,
                    struct kube_client **out, char *err, size_t err_len);

/** Free the client. NULL accepted. */
void kube_client_free(struct kube_client *c);

/** The configuration; borrowed. */
const struct kube_config *kube_client_config(const struct kube_client *c);

/** The clock; borrowed. */
const struct kube_clock *kube_client_clock(const struct kube_client *c);

/**
 * One request. `path` starts with '/' and may hold a query; `body` (borrowed, may be NULL)
 * is sent as JSON with content_type (NULL: application/json). timeout_ms 0 = default.
 * Waits for the rate limiter. A 401 refreshes credentials (token file, exec plugin) and
 * retries once; a GET answered 429/5xx with Retry-After is retried up to max_retries.
 * Returns 0 on 2xx; otherwise a negative status: NSC_ERR_NOT_FOUND (404),
 * NSC_ERR_AUTH (401, 403), NSC_ERR_INVALID (400, 405, 415, 422), NSC_ERR_TRANSIENT (409,
 * 410, 429, 5xx, no response), NSC_ERR_NOMEM. resp is always filled (clear it after).
 */
int kube_request(struct kube_client *c, const char *method, const char *path,
                 const json_t *body, const char *content_type, long timeout_ms,
                 struct kube_resp *resp);

/** Receives a 2xx body as it arrives (borrowed bytes); non-zero aborts the transfer. */
typedef int kube_sink_fn(void *ud, const char *data, size_t len);

/**
 * A GET as kube_request, except that a 2xx body is handed to sink as it arrives rather
 * than decoded (resp->obj stays NULL): large lists are consumed without holding them.
 * Other answers are decoded into resp as usual, and retried as usual (the sink has seen
 * nothing of them). Returns as kube_request, or the sink's non-zero value when it stopped
 * the transfer (resp->status is then the HTTP status; the sink knows why it stopped).
 * After a transport failure the sink may have seen part of the body.
 */
int kube_request_stream(struct kube_client *c, const char *path, long timeout_ms,
                        kube_sink_fn *sink, void *ud, struct kube_resp *resp);

/**
 * kube_request_stream for the second and later pages of one list: they do not wait for
 * the rate limiter, since the list as a whole took its token with the first page (a list
 * of 30,000 pods is one logical request, not 60).
 */
int kube_request_stream_page(struct kube_client *c, const char *path, long timeout_ms,
                             kube_sink_fn *sink, void *ud, struct kube_resp *resp);

/** Map an HTTP status to the statuses above. */
int kube_status_of_http(long http_status);

/**
 * Configure an easy handle for `path` with the client's TLS, credentials, user agent
 * (used by watches on their own handles). *headers receives a list the caller frees
 * after the transfer. force_refresh re-reads or re-runs the credential source.
 * Returns 0 or a negative status (err filled).
 */
int kube_client_setup_easy(struct kube_client *c, CURL *easy, const char *path,
                           struct curl_slist **headers, int force_refresh, char *err,
                           size_t err_len);

/** Wait for the rate limiter (watches count as requests too). */
void kube_client_throttle(struct kube_client *c);

/** Percent-encode s for a query value into buf. Returns buf. */
const char *kube_query_escape(const char *s, char *buf, size_t len);

#endif
