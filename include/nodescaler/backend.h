/* nodescaler backend ABI: the one header a cloud backend is written against.
 * A backend is a shared object exporting nsc_backend_entry_v1(); read this file as its manual.
 *
 * ABI changelog (append only; a major bump breaks every backend, a minor bump
 * only appends fields or operations at the end of a structure):
 *
 *   1.0  2026-11  First version: host table (log, option, http, clock, redact),
 *                 sink (group, instance), operations create, destroy, refresh,
 *                 node_groups, group_instances, resize, evict, last_error and the
 *                 optional group_for_node.
 *
 * Acceptance rule (applied by the core's loader):
 *   - abi_major must equal the core's NSC_ABI_MAJOR;
 *   - abi_minor must be no newer than the core's NSC_ABI_MINOR;
 *   - struct_size must cover every field of the declared minor version;
 *   - every mandatory operation must be non-NULL.
 * A backend that fails any of these is refused with a message naming the file, both
 * versions and what is missing; it is never half-loaded.
 *
 * Rules a backend must keep:
 *   - The core never calls one backend instance from two threads at once. Different
 *     instances may be used from different threads, so a backend keeps no global mutable
 *     state.
 *   - A backend never exits, never installs signal handlers, never calls curl_global_*()
 *     or json_set_alloc_funcs(), and never does network I/O without a timeout: it should
 *     use host->http(), which has one.
 *   - No call blocks for minutes. A cloud operation still running is reported by the next
 *     refresh (for example as CREATING instances), never waited for inside resize/evict.
 *   - No allocator crosses the line: what the core passes in is borrowed for the duration
 *     of the call; what the backend emits through a sink is copied by the core before the
 *     sink returns. Each side frees only what it allocated.
 *   - Secrets (API keys, tokens) must be passed to host->redact() before they can appear
 *     in any text the backend hands to the core.
 *
 * Dependencies: <stdint.h>, <stddef.h>, <stdarg.h>, <stdbool.h> only. Compiles as C99 and
 * as C++ (98 or later).
 */
#ifndef NODESCALER_BACKEND_H
#define NODESCALER_BACKEND_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI version implemented by this header. */
#define NSC_ABI_MAJOR 1
#define NSC_ABI_MINOR 0

/** Marks the single exported symbol of a backend built with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define NSC_EXPORT __attribute__((visibility("default")))
#define NSC_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define NSC_EXPORT
#define NSC_PRINTF(fmt_idx, arg_idx)
#endif

/**
 * Status returned by every operation: 0 for success or one of these negative values.
 * The numbers never change within a major version; new ones are only appended.
 */
enum nsc_status {
    NSC_OK = 0,
    /** A parameter or option is malformed or refers to nothing sensible. Not retried. */
    NSC_ERR_INVALID = -1,
    /** The group, instance or cloud object named does not exist. */
    NSC_ERR_NOT_FOUND = -2,
    /** The operation is not supported by this backend. */
    NSC_ERR_NOT_IMPLEMENTED = -3,
    /** A failure that may pass: timeout, 429, 5xx, connection reset. Retried with backoff. */
    NSC_ERR_TRANSIENT = -4,
    /** The cloud has no capacity or quota left for the request. The group is backed off. */
    NSC_ERR_OUT_OF_RESOURCES = -5,
    /** Credentials missing, wrong, expired, or lacking a permission. */
    NSC_ERR_AUTH = -6,
    /** Memory could not be allocated. */
    NSC_ERR_NOMEM = -7,
    /** A bug or an answer that makes no sense; the message says which. */
    NSC_ERR_INTERNAL = -8
};

/** Log levels for host->log; the core maps them onto its own output format. */
enum nsc_log_level {
    NSC_LOG_ERROR = 0,
    NSC_LOG_WARNING = 1,
    NSC_LOG_INFO = 2,
    NSC_LOG_DEBUG = 3
};

/** The lifecycle state of one instance of a node group, as the cloud sees it. */
enum nsc_instance_state {
    /** The backend cannot tell; the core treats the instance as existing. */
    NSC_INSTANCE_UNKNOWN = 0,
    /** The machine exists and runs; it should be (or become) a Kubernetes node. */
    NSC_INSTANCE_RUNNING = 1,
    /** Requested and not yet running; counts as upcoming capacity. */
    NSC_INSTANCE_CREATING = 2,
    /** Being removed; counts as neither current nor upcoming capacity. */
    NSC_INSTANCE_DELETING = 3
};

/** Why an instance failed, when it did; drives the core's back-off of the group. */
enum nsc_error_class {
    NSC_ERROR_CLASS_NONE = 0,
    /** Quota, capacity or stock exhausted: retrying soon will not help. */
    NSC_ERROR_CLASS_OUT_OF_RESOURCES = 1,
    /** Any other failure of the instance. */
    NSC_ERROR_CLASS_OTHER = 2
};

/** One `--backend-opt key=value` pair. Keys may repeat (for example `nodes`). */
struct nsc_option {
    const char *key;
    const char *value;
};

/** One HTTP header, borrowed. */
struct nsc_http_header {
    const char *name;
    const char *value;
};

/**
 * An HTTP request for host->http(). Every pointer is borrowed for the duration of the
 * call. Fields added in later minor versions go at the end; set struct_size.
 */
struct nsc_http_request {
    /** sizeof(struct nsc_http_request) as the backend was compiled. */
    uint32_t struct_size;
    /** "GET", "PUT", "POST", "DELETE" or "PATCH". */
    const char *method;
    /** Absolute http:// or https:// URL, query string included. */
    const char *url;
    /** Extra headers; the host adds User-Agent and Content-Length itself. */
    const struct nsc_http_header *headers;
    size_t n_headers;
    /** Request body, or NULL with body_len 0. */
    const char *body;
    size_t body_len;
    /** Whole-request timeout; 0 means the host's default (30 s). Never infinite. */
    uint32_t timeout_ms;
    /** PEM CA bundle to verify the server with instead of the system store, or NULL. */
    const char *ca_file;
    /**
     * Skip TLS verification. Only honour a user's explicit request for it; the host logs
     * a warning on every such request.
     */
    bool insecure_skip_tls_verify;
};

/**
 * An HTTP response filled by host->http(). Owned by the host: valid until
 * host->http_release() is called on it, which the backend must do exactly once after a
 * successful host->http(), and never after a failed one.
 */
struct nsc_http_response {
    /** HTTP status code (200, 404, ...). */
    long status;
    /** Body, NUL-terminated for convenience (body[body_len] == '\0'); may contain NULs. */
    const char *body;
    size_t body_len;
    /** Opaque to the backend: the host's bookkeeping. */
    void *host_private;
};

struct nsc_host;

/** printf-style logging; the core prefixes the backend's name and redacts secrets. */
typedef void nsc_host_log_fn(const struct nsc_host *host, enum nsc_log_level level,
                             const char *fmt, ...) NSC_PRINTF(3, 4);

/**
 * Look up a configuration value: the first `--backend-opt key=value` with this key,
 * else the environment variable env_name when env_name is not NULL, else NULL.
 * The returned text is owned by the host and lives as long as the backend instance.
 */
typedef const char *nsc_host_option_fn(const struct nsc_host *host, const char *key,
                                       const char *env_name);

/**
 * Register a secret so that the host replaces it by "[redacted]" wherever it would
 * appear in a log line or error text. The text is copied. Returns NSC_OK or
 * NSC_ERR_NOMEM.
 */
typedef int nsc_host_redact_fn(const struct nsc_host *host, const char *secret);

/**
 * Perform one HTTP request on the core's libcurl: connection reuse, proxies from the
 * environment, TLS verified against the system store (or req->ca_file), a timeout always.
 * Returns NSC_OK when a response arrived, whatever its HTTP status (the backend maps
 * statuses itself); NSC_ERR_TRANSIENT for connection, TLS handshake or timeout failures;
 * NSC_ERR_AUTH when the server's certificate fails verification (final: not worth
 * retrying); NSC_ERR_INVALID for a malformed request; NSC_ERR_NOMEM. On failure *resp is
 * untouched and the reason is logged by the host. Redirects are not followed.
 */
typedef int nsc_host_http_fn(const struct nsc_host *host, const struct nsc_http_request *req,
                             struct nsc_http_response *resp);

/**
 * The value of a response header (case-insensitive name), owned by the response, or NULL.
 */
typedef const char *nsc_host_http_header_fn(const struct nsc_host *host,
                                            const struct nsc_http_response *resp,
                                            const char *name);

/** Release what host->http() put in *resp. */
typedef void nsc_host_http_release_fn(const struct nsc_host *host,
                                      struct nsc_http_response *resp);

/** Milliseconds. Tests drive a backend on a fake clock through these. */
typedef int64_t nsc_host_clock_fn(const struct nsc_host *host);

/**
 * What the core lends a backend. Borrowed: valid from create() until destroy() returns.
 * Every function may be called from the thread that is calling into the backend.
 * A backend compiled against an older minor sees a prefix of this table; one compiled
 * against a newer minor must check struct_size before using fields it knows the core
 * might lack.
 */
struct nsc_host {
    /** sizeof(struct nsc_host) as the core was compiled. */
    uint32_t struct_size;
    /** The core's ABI version. */
    uint32_t abi_major;
    uint32_t abi_minor;
    /** The core's private context; a backend never touches it. */
    void *core_private;
    nsc_host_log_fn *log;
    nsc_host_option_fn *option;
    nsc_host_redact_fn *redact;
    nsc_host_http_fn *http;
    nsc_host_http_header_fn *http_header;
    nsc_host_http_release_fn *http_release;
    /** Unix time in milliseconds (wall clock, for timestamps). */
    nsc_host_clock_fn *now_ms;
    /** Monotonic milliseconds (for timeouts and back-off). */
    nsc_host_clock_fn *monotonic_ms;
};

/** A node group as the backend reports it. Every pointer is borrowed by the sink. */
struct nsc_group {
    /** sizeof(struct nsc_group) as the backend was compiled. */
    uint32_t struct_size;
    /** Stable identifier, unique within the backend; used in resize/evict and logs. */
    const char *id;
    /** Human name if different from id (nodepool name), else NULL. */
    const char *name;
    /** Bounds the core must respect: 0 <= min_size <= target_size <= max_size. */
    int32_t min_size;
    int32_t max_size;
    /** The size the cloud was last asked for (including instances still being created). */
    int32_t target_size;
    /**
     * The JSON text of a Kubernetes v1.Node describing a new node of this group: labels,
     * taints, status.capacity and status.allocatable. NULL when the backend cannot build
     * one; such a group cannot scale from zero.
     */
    const char *template_node_json;
};

/** One instance (machine) of a node group. Every pointer is borrowed by the sink. */
struct nsc_instance {
    /** sizeof(struct nsc_instance) as the backend was compiled. */
    uint32_t struct_size;
    /** The Kubernetes spec.providerID the node has or will have, e.g. "exoscale://<uuid>". */
    const char *provider_id;
    enum nsc_instance_state state;
    enum nsc_error_class error_class;
    /** Short machine-readable code for the error ("QUOTA_EXCEEDED"), or NULL. */
    const char *error_code;
    /** What a person should read about the error, or NULL. */
    const char *error_message;
};

struct nsc_sink;

/**
 * Receive one record. The core deep-copies the record before returning. Returns NSC_OK,
 * or NSC_ERR_NOMEM / NSC_ERR_INVALID (malformed record): the backend then stops emitting
 * and returns that status from the operation.
 */
typedef int nsc_sink_group_fn(const struct nsc_sink *sink, const struct nsc_group *group);
typedef int nsc_sink_instance_fn(const struct nsc_sink *sink,
                                 const struct nsc_instance *instance);

/** Where a backend sends its results. Borrowed for the duration of one operation. */
struct nsc_sink {
    void *ctx;
    nsc_sink_group_fn *group;
    nsc_sink_instance_fn *instance;
};

/** A backend instance: opaque to the core, defined by each backend. */
struct nsc_backend;

/**
 * Create a backend instance. `host` is borrowed until destroy(); `opts` only for this call
 * (copy what you keep). On failure return a negative status, leave *out NULL, and write a
 * NUL-terminated reason into errbuf (errbuf_len bytes, at least 256), naming the option or
 * environment variable at fault. Must not contact the cloud for long: validation of
 * credentials may wait for the first refresh().
 * Returns NSC_OK, NSC_ERR_INVALID, NSC_ERR_AUTH, NSC_ERR_NOMEM, NSC_ERR_INTERNAL.
 */
typedef int nsc_create_fn(const struct nsc_host *host, const struct nsc_option *opts,
                          size_t n_opts, struct nsc_backend **out, char *errbuf,
                          size_t errbuf_len);

/** Free every resource of the instance. Never fails; NULL is accepted. */
typedef void nsc_destroy_fn(struct nsc_backend *backend);

/**
 * Bring the backend's view of the cloud up to date, once per control loop, before
 * node_groups and group_instances are read. Should make as few calls as it can (cache,
 * refresh per group, fetch per instance only for what it has not seen). Also reports the
 * progress or failure of operations started by resize/evict.
 * Returns NSC_OK or any negative status; on failure the previous view stays readable.
 */
typedef int nsc_refresh_fn(struct nsc_backend *backend);

/**
 * Emit every node group through sink->group, including groups with zero instances.
 * Reads the view of the last refresh; makes no network call.
 * Returns NSC_OK or the sink's failure status.
 */
typedef int nsc_node_groups_fn(struct nsc_backend *backend, const struct nsc_sink *sink);

/**
 * Emit every instance of the group through sink->instance, from the last refresh.
 * Returns NSC_OK, NSC_ERR_NOT_FOUND (unknown group) or the sink's failure status.
 */
typedef int nsc_group_instances_fn(struct nsc_backend *backend, const char *group_id,
                                   const struct nsc_sink *sink);

/**
 * Ask the cloud to make the group's target size `target` (absolute, so retrying is safe).
 * Returns once the cloud accepted the request; the instances appear as CREATING in later
 * refreshes. Returns NSC_OK, NSC_ERR_INVALID (target outside [min, max]),
 * NSC_ERR_NOT_FOUND, NSC_ERR_TRANSIENT, NSC_ERR_OUT_OF_RESOURCES, NSC_ERR_AUTH,
 * NSC_ERR_INTERNAL.
 */
typedef int nsc_resize_fn(struct nsc_backend *backend, const char *group_id, int32_t target);

/**
 * Remove exactly these instances (by provider ID) from the group and lower its target by
 * their number. Never removes another instance instead. The core has already drained
 * the nodes. Returns NSC_OK, NSC_ERR_INVALID (an ID not in the group, or going below
 * min), NSC_ERR_NOT_FOUND, NSC_ERR_TRANSIENT, NSC_ERR_AUTH, NSC_ERR_INTERNAL.
 */
typedef int nsc_evict_fn(struct nsc_backend *backend, const char *group_id,
                         const char *const *provider_ids, size_t n_ids);

/**
 * Text describing the failure of the last operation that returned a negative status on
 * this instance. Owned by the backend, valid until the next call into it. Never NULL:
 * "" when there is nothing to say.
 */
typedef const char *nsc_last_error_fn(struct nsc_backend *backend);

/**
 * Optional (may be NULL). Emit, through sink->group, the group owning the node with this
 * provider ID, for nodes the last refresh did not list. Returns NSC_OK,
 * NSC_ERR_NOT_FOUND (no group owns it: the core leaves that node alone) or any other
 * status.
 */
typedef int nsc_group_for_node_fn(struct nsc_backend *backend, const char *provider_id,
                                  const struct nsc_sink *sink);

/**
 * The table a backend returns from nsc_backend_entry_v1(). Constant, static storage.
 * The first five fields are the header: fill them with NSC_BACKEND_HEADER.
 */
struct nsc_backend_ops {
    uint32_t abi_major;
    uint32_t abi_minor;
    /** sizeof(struct nsc_backend_ops) as the backend was compiled. */
    uint32_t struct_size;
    /** Backend name as used in --backend (e.g. "sks"). */
    const char *name;
    /** Backend version, free-form ("1.2.0"). */
    const char *version;

    /* Mandatory operations (ABI 1.0). */
    nsc_create_fn *create;
    nsc_destroy_fn *destroy;
    nsc_refresh_fn *refresh;
    nsc_node_groups_fn *node_groups;
    nsc_group_instances_fn *group_instances;
    nsc_resize_fn *resize;
    nsc_evict_fn *evict;
    nsc_last_error_fn *last_error;

    /* Optional operations (ABI 1.0): NULL when not provided. */
    nsc_group_for_node_fn *group_for_node;
};

/**
 * Fills the header fields, in order, for a static initializer:
 *   static const struct nsc_backend_ops ops = {
 *       NSC_BACKEND_HEADER("mycloud", "1.0.0"),
 *       my_create, my_destroy, ...
 *   };
 */
#define NSC_BACKEND_HEADER(name_, version_)                                                    \
    NSC_ABI_MAJOR, NSC_ABI_MINOR, (uint32_t)sizeof(struct nsc_backend_ops), (name_), (version_)

/** Name of the one symbol a backend exports. */
#define NSC_BACKEND_ENTRY_SYMBOL "nsc_backend_entry_v1"

/** The entry point type: returns the backend's constant table; never NULL, never fails. */
typedef const struct nsc_backend_ops *nsc_backend_entry_fn(void);

/** Declaration of the entry point; a backend defines it with NSC_EXPORT. */
NSC_EXPORT const struct nsc_backend_ops *nsc_backend_entry_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* NODESCALER_BACKEND_H */
