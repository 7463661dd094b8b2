/* Informers: paginated list, then watch, for one resource each, all driven by one
 * curl multi handle from the caller's thread. Each object change reaches a callback as
 * an add, update or delete; relists are turned into the same three kinds of event. */
#ifndef NSC_KUBE_INFORMER_H
#define NSC_KUBE_INFORMER_H

#include <stdint.h>

#include <jansson.h>

#include "kube/client.h"
#include "kube/jscan.h"
#include "kube/watch.h"

enum kube_event_type { KUBE_EVENT_ADDED = 0, KUBE_EVENT_MODIFIED, KUBE_EVENT_DELETED };

/** An object changed. obj is borrowed (valid during the call); for a delete found by a
 * relist it holds only kind and metadata (name, namespace). A relist reports objects
 * whose resourceVersion is the one last seen as nothing: they did not change. */
typedef void kube_event_fn(void *ud, enum kube_event_type type, json_t *obj);

/** The same, for an informer that does not decode: the object as its JSON text (borrowed,
 * not NUL-terminated, valid during the call) and its metadata fields as read from it. For
 * a delete found by a relist the text holds only kind and metadata. */
typedef void kube_raw_event_fn(void *ud, enum kube_event_type type, const char *json,
                               size_t len, const struct kube_raw_meta *meta);

/** Returns 1 when obj is in a state that should wake the control loop (checked on each
 * add and update; the loop is woken when an object enters that state). */
typedef int kube_wake_fn(const json_t *obj);

struct kube_informer_opts {
    const char *name;           /* for logs: "pods" */
    const char *path;           /* collection path: "/api/v1/pods" */
    const char *kind;           /* "Pod": the kind of synthetic deletes */
    const char *field_selector; /* optional, unescaped */
    const char *label_selector; /* optional, unescaped */
    int page_limit;             /* [500] */
    kube_event_fn *on_event;
    kube_raw_event_fn *on_raw_event; /* instead of on_event: nothing is decoded, and
                                        wake_if is not used */
    void *ud;
    kube_wake_fn *wake_if; /* optional */
    struct kube_reflector_opts reflector;
};

struct kube_informers;
struct kube_informer;

/** A set of informers on one client (borrowed; must outlive the set). */
int kube_informers_new(struct kube_client *client, struct kube_informers **out);

/** Stop every watch and free the set. NULL accepted. */
void kube_informers_free(struct kube_informers *set);

/** Add an informer (strings copied). It lists on the next run. *out borrowed, may be NULL. */
int kube_informers_add(struct kube_informers *set, const struct kube_informer_opts *opts,
                       struct kube_informer **out);

/**
 * Run lists and watches for up to timeout_ms. Returns 1 when woken early (a wake_if
 * object appeared, or kube_informers_wake was called), 0 at the timeout, NSC_ERR_NOMEM.
 * Failures of the API are handled inside (backoff, relist) and logged.
 */
int kube_informers_run(struct kube_informers *set, int64_t timeout_ms);

/** Make a running or the next kube_informers_run return. Thread- and signal-safe. */
void kube_informers_wake(struct kube_informers *set);

/** True once every informer has delivered a full list. */
int kube_informers_synced(const struct kube_informers *set);

/** The informer added with this name (borrowed), or NULL. */
struct kube_informer *kube_informers_find(struct kube_informers *set, const char *name);

/** The reflector of an informer (borrowed; tests and metrics). */
const struct kube_reflector *kube_informer_reflector(const struct kube_informer *inf);

/** Number of objects the informer knows. */
size_t kube_informer_size(const struct kube_informer *inf);

/** Items of relists skipped because their resourceVersion was the one known (no event,
 * no decoding: the object has not changed). */
long kube_informer_n_unchanged(const struct kube_informer *inf);

/**
 * kube_list, with each item handed on as its raw JSON text (kube_raw_item_fn: borrowed,
 * valid during the call) as the page streams in; no page is held whole. A body that is
 * not a list gives NSC_ERR_INTERNAL with resp reason "BadResponse" and the place.
 */
int kube_list_raw(struct kube_client *c, const char *path, const char *query, int limit,
                  kube_raw_item_fn *cb, void *ud, char *rv, size_t rv_len,
                  struct kube_resp *resp);

/**
 * kube_list_raw from a resourceVersion, as client-go's reflector lists: "0" lets the
 * server answer from its watch cache (cheap, possibly a little behind); a version seen
 * before reads no older than it; NULL or "" reads the latest from storage. When the server
 * cannot list at that version (410, or 504 "Too large resource version") the list is
 * read again from storage. Only the first page waits for the client's rate limiter.
 */
int kube_list_raw_at(struct kube_client *c, const char *path, const char *query, int limit,
                     const char *from_rv, kube_raw_item_fn *cb, void *ud, char *rv,
                     size_t rv_len, struct kube_resp *resp);

/** Called for each item of a list (borrowed); non-zero stops the list. */
typedef int kube_item_fn(void *ud, json_t *item);

/**
 * List a collection through pagination (limit, continue) at one consistent
 * resourceVersion, which goes into rv (may be NULL). A 410 on a continue token restarts
 * from the first page once. Returns 0, a request status (resp describes it), or the
 * callback's value. `query` (may be NULL, already escaped) is appended: "fieldSelector=a%3Db".
 */
int kube_list(struct kube_client *c, const char *path, const char *query, int limit,
              kube_item_fn *cb, void *ud, char *rv, size_t rv_len, struct kube_resp *resp);

/** True for a pending pod the scheduler marked unschedulable (PodScheduled=False,
 * reason Unschedulable) and not bound to a node. */
int kube_pod_is_unschedulable(const json_t *pod);

#endif
