/* Exoscale API v2 client shared by the sks and instance-pool backends: configuration,
 * EXO2-HMAC-SHA256 signing, signed calls with retries, and the JSON objects we read. */
#ifndef EXO_H
#define EXO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <nodescaler/backend.h>

#define EXO_ERR_LEN 1024
/* A signature is valid for this long; every reference client uses 10 minutes. */
#define EXO_SIGN_VALIDITY_S 600

/* ---- configuration (config.c) ---- */

/** Where and as whom the client talks. Every string is owned (freed by exo_config_clear). */
struct exo_config {
    char *key;
    char *secret;
    char *zone;
    /** Base URL including the /v2 prefix, without trailing slash. */
    char *base_url;
    /** PEM bundle for a private endpoint, or NULL for the system store. */
    char *ca_file;
    /** True when base_url is plain http (allowed for loopback only). */
    bool plain_http;
};

/**
 * Read the configuration from host->option: each setting as a --backend-opt key first,
 * then its environment variable (api-key/EXOSCALE_API_KEY, api-key-file/EXOSCALE_API_KEY_FILE,
 * api-secret/EXOSCALE_API_SECRET, api-secret-file/EXOSCALE_API_SECRET_FILE,
 * zone/EXOSCALE_ZONE, api-environment/EXOSCALE_API_ENVIRONMENT,
 * api-endpoint/EXOSCALE_API_ENDPOINT, ca-file/EXOSCALE_CA_FILE). Registers the secret with
 * host->redact. On failure returns NSC_ERR_INVALID (or NSC_ERR_NOMEM) and writes a message
 * naming the option and variable into err; the secret never appears in it.
 */
int exo_config_load(const struct nsc_host *host, struct exo_config *cfg, char *err,
                    size_t err_len);

/** Free every string of cfg (the secret is wiped first) and zero it. */
void exo_config_clear(struct exo_config *cfg);

/* ---- signing (sign.c) ---- */

/**
 * Build the EXO2-HMAC-SHA256 string-to-sign for one request (notes §1.1).
 * path: the URL path as sent ("/v2/zone"); query: the raw query string without '?',
 * or NULL; body: body_len bytes or NULL. *out is owned by the caller (free).
 * The names of the signed query parameters, ';'-joined and sorted, go to *signed_args
 * (owned, "" when none). Returns NSC_OK, NSC_ERR_NOMEM or NSC_ERR_INVALID (bad escape).
 */
int exo_sign_message(const char *method, const char *path, const char *query, const char *body,
                     size_t body_len, int64_t expires_s, char **out, char **signed_args);

/**
 * The full Authorization header value for a request, signed with key/secret and
 * expiring at expires_s (Unix seconds). *out is owned by the caller.
 * Returns NSC_OK, NSC_ERR_NOMEM, NSC_ERR_INVALID or NSC_ERR_INTERNAL (OpenSSL failure).
 */
int exo_sign(const char *key, const char *secret, const char *method, const char *path,
             const char *query, const char *body, size_t body_len, int64_t expires_s,
             char **out);

/**
 * Decode %XX escapes (and '+' as space, as Go's url.ParseQuery does for query values)
 * of len bytes of in into a new NUL-terminated string. NULL on a malformed escape or
 * out of memory.
 */
char *exo_url_decode(const char *in, size_t len, bool plus_is_space);

/* ---- calls (client.c) ---- */

/** How a call may be retried. */
enum exo_retry {
    /** Retry transport errors, 429 and 5xx except 501 (GET, absolute :scale). */
    EXO_RETRY_IDEMPOTENT = 0,
    /** Never retry (:evict): the caller re-reads the state first. */
    EXO_RETRY_NEVER = 1,
    /**
     * Retry only answers that say the request was not applied (429, 409). For an absolute
     * :scale, whose lost or 5xx answers may hide an applied change: the caller re-reads
     * the group before sending again.
     */
    EXO_RETRY_REFUSED = 2
};

/* A call (attempts and back-off together) that takes longer than this is logged as a
 * warning even when it succeeds: slowness shows before it becomes failure. */
#define EXO_SLOW_CALL_MS 3000
/* The shortest attempt worth starting when a call's deadline is near. */
#define EXO_MIN_ATTEMPT_MS 100

/** Waits ms milliseconds; tests replace it with one that moves a fake clock. */
typedef void exo_sleep_fn(void *ctx, int64_t ms);

/** Counts of calls by operation name, for the benchmarks and the tests. */
struct exo_call_stats {
    uint64_t n_calls;
    uint64_t n_retries;
};

/** A signed-call client. Borrows host; owns cfg. */
struct exo_client {
    const struct nsc_host *host;
    struct exo_config cfg;
    exo_sleep_fn *sleep;
    void *sleep_ctx;
    /** Retries after the first attempt; delays base_ms * 2^n capped at cap_ms. */
    int max_retries;
    int64_t retry_base_ms;
    int64_t retry_cap_ms;
    /**
     * Longest total wait one call may spend in back-off before giving up. A whole call,
     * attempts and back-off together, ends within timeout_ms + retry_budget_ms.
     */
    int64_t retry_budget_ms;
    /** Per-attempt timeout handed to host->http (connect included). */
    uint32_t timeout_ms;
    /**
     * Monotonic time by which a sequence of calls must be over (0: none); set by a caller
     * that re-reads and resends, so that the whole sequence has one bound.
     */
    int64_t deadline_ms;
    /** Monotonic time before which no call is sent (a Retry-After beyond the budget). */
    int64_t blocked_until_ms;
    struct exo_call_stats stats;
    /** HTTP status of the last answer, 0 when none arrived. */
    long last_status;
    char err[EXO_ERR_LEN];
};

/** Set defaults (4 retries, 1 s doubling to 30 s, 15 s budget, 15 s per attempt). Takes cfg. */
void exo_client_init(struct exo_client *c, const struct nsc_host *host, struct exo_config *cfg);

/** Free what the client owns. */
void exo_client_clear(struct exo_client *c);

/**
 * One signed call to base_url + path (path starts with '/', e.g. "/instance-pool/ID:scale";
 * query without '?' or NULL; body or NULL). Re-signs each attempt. On success *out (may
 * be NULL to ignore) receives the parsed JSON body (owned; json_decref). On failure
 * returns the mapped status (401/403 AUTH, 404 NOT_FOUND, 429/5xx-but-501/409/transport
 * TRANSIENT, quota messages OUT_OF_RESOURCES, other 4xx INVALID, 3xx and bad JSON
 * INTERNAL) and c->err holds "METHOD PATH: HTTP n: message". The call ends within
 * timeout_ms + retry_budget_ms (and by deadline_ms when set).
 */
int exo_call(struct exo_client *c, const char *method, const char *path, const char *query,
             const char *body, enum exo_retry retry, json_t **out);

/**
 * The message of an error body: "message", "error", RFC 9457 title/detail/errors, or the
 * text itself (control characters replaced, truncated). Writes into out.
 */
void exo_error_text(const char *body, size_t body_len, char *out, size_t out_len);

/** Map an HTTP status and its error text to a status (see exo_call). */
int exo_status_map(long http_status, const char *message);

/**
 * Delay before retry number attempt (0-based) when the answer said retry_after
 * ("" or NULL: none; seconds or an HTTP-date compared to now_unix_s). Returns ms.
 */
int64_t exo_backoff_ms(const struct exo_client *c, int attempt, const char *retry_after,
                       int64_t now_unix_s);

/* ---- objects (model.c) ---- */

/* Bounds on numbers the API sends, far above any real offer (the largest Exoscale types
 * have a few hundred GiB and under 100 vCPUs) but low enough that a template's
 * arithmetic (millicores, bytes) cannot overflow. */
#define EXO_CPUS_MAX 4096
#define EXO_GPUS_MAX 64
#define EXO_MEMORY_MAX_BYTES ((int64_t)64 << 40)
#define EXO_DISK_MAX_GIB ((int64_t)1 << 20)

/** What a backend makes of an instance-state value (unknown values tolerated). */
enum exo_istate {
    EXO_ISTATE_UNKNOWN = 0,
    EXO_ISTATE_STARTING,
    EXO_ISTATE_RUNNING,
    EXO_ISTATE_STOPPING,
    EXO_ISTATE_STOPPED,
    EXO_ISTATE_DESTROYING,
    EXO_ISTATE_DESTROYED,
    EXO_ISTATE_EXPUNGING,
    EXO_ISTATE_MIGRATING,
    EXO_ISTATE_ERROR
};

/** One instance of list-instances / get-instance. Strings owned. */
struct exo_instance {
    char *id;
    char *name;
    char *state_text; /* as received, "" when absent */
    enum exo_istate state;
    char *manager_id;   /* NULL when unmanaged */
    char *manager_type; /* NULL when unmanaged */
};

/** An instance pool. Strings owned, labels a new reference or NULL. */
struct exo_pool {
    char *id;
    char *name;
    char *state;
    int64_t size;
    char **member_ids;
    size_t n_members;
    char *manager_id;
    char *manager_type;
    char *type_id;
    int64_t disk_size_gib;
    json_t *labels;
    /** Why size is unknown (-1): missing or malformed in the answer; NULL when known. */
    char *size_problem;
};

/** An SKS nodepool. */
struct exo_nodepool {
    char *id;
    char *name;
    char *state;
    int64_t size;
    char *pool_id;
    char *type_id;
    int64_t disk_size_gib;
    json_t *labels;
    json_t *taints;
    /** Why size is unknown (-1): missing or malformed in the answer; NULL when known. */
    char *size_problem;
};

/** An SKS cluster with its nodepools. */
struct exo_cluster {
    char *id;
    char *name;
    char *state;
    struct exo_nodepool *nodepools;
    size_t n_nodepools;
};

/** An instance type. */
struct exo_itype {
    char *id;
    char *family;
    char *size;
    int64_t cpus;
    int64_t gpus;
    int64_t memory_bytes;
};

/** An async operation. state: pending, success, failure, timeout, or unknown text. */
enum exo_op_state {
    EXO_OP_PENDING = 0,
    EXO_OP_SUCCESS,
    EXO_OP_FAILURE,
    EXO_OP_TIMEOUT,
    EXO_OP_UNKNOWN
};

struct exo_operation {
    char *id;
    enum exo_op_state state;
    char *state_text;
    char *reason;  /* NULL when absent */
    char *message; /* NULL when absent */
};

/** A quota. limit -1 means unlimited. */
struct exo_quota {
    int64_t usage;
    int64_t limit;
};

/*
 * Parsers: each reads a borrowed JSON value, fills *out (zeroed first; free with the
 * matching _clear) and returns NSC_OK, NSC_ERR_NOMEM, or NSC_ERR_INTERNAL with a message
 * naming the object and field in err when a required field is missing or mistyped, or a
 * number lies outside its range. A pool's or nodepool's size is the exception: a bad one
 * gives size -1 and size_problem, so that the group stays visible but is never resized.
 * Unknown fields and unknown enum values are accepted.
 */
int exo_parse_instance(const json_t *j, struct exo_instance *out, char *err, size_t err_len);
int exo_parse_pool(const json_t *j, struct exo_pool *out, char *err, size_t err_len);
int exo_parse_nodepool(const json_t *j, struct exo_nodepool *out, char *err, size_t err_len);
int exo_parse_cluster(const json_t *j, struct exo_cluster *out, char *err, size_t err_len);
int exo_parse_itype(const json_t *j, struct exo_itype *out, char *err, size_t err_len);
int exo_parse_operation(const json_t *j, struct exo_operation *out, char *err, size_t err_len);
int exo_parse_quota(const json_t *j, struct exo_quota *out, char *err, size_t err_len);

void exo_instance_clear(struct exo_instance *v);
void exo_pool_clear(struct exo_pool *v);
void exo_nodepool_clear(struct exo_nodepool *v);
void exo_cluster_clear(struct exo_cluster *v);
void exo_itype_clear(struct exo_itype *v);
void exo_operation_clear(struct exo_operation *v);

/** Map an instance-state text to the enum; NULL and unknown values give UNKNOWN. */
enum exo_istate exo_istate_parse(const char *text);

/** True for a text that has the shape of a UUID (8-4-4-4-12 hex digits). */
bool exo_is_uuid(const char *text);

#endif
