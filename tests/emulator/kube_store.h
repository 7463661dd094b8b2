/* The kube-apiserver emulator's store: objects kept as compact JSON text per resource,
 * one resourceVersion counter, and the change log that watches read. One lock guards
 * everything; the HTTP side (kube_emulator.c) holds it while it reads or writes. */
#ifndef NSC_KUBE_STORE_H
#define NSC_KUBE_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum kst_res_id {
    KST_NODES = 0,
    KST_PODS,
    KST_PDBS,
    KST_LEASES,
    KST_EVENTS,
    KST_CONFIGMAPS,
    KST_NAMESPACES,
    KST_PVS,
    KST_PVCS,
    KST_SCS,
    KST_CSINODES,
    KST_N_RES
};

/** Static description of a resource. */
struct kst_res_info {
    const char *group; /* "" for core, else "policy" */
    const char *plural;
    const char *kind;
    int namespaced;
};

extern const struct kst_res_info kst_res_infos[KST_N_RES];

/** One stored object. The JSON text has no kind/apiVersion (added on output). */
struct kst_obj {
    char *ns; /* "" for cluster-scoped */
    char *name;
    char *json;
    size_t len;
    uint64_t rv;
    /* fields for field selectors */
    char *node_name;
    char *phase;
    int unschedulable;
};

/** One change, as watches replay it. */
struct kst_ev {
    uint64_t rv;
    int res;
    char type;           /* 'A'dded, 'M'odified, 'D'eleted */
    struct kst_obj *obj; /* a private copy: the state after the change (before, for D) */
};

struct kst_res {
    struct kst_obj **objs;
    size_t n_objs, cap;
    json_t *index;           /* "ns/name" -> integer position in objs */
    struct kst_obj **sorted; /* by (ns, name), rebuilt after an insert or delete */
    size_t n_sorted;
    int sorted_valid;
};

struct kst_store {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* broadcast on every change and on drop-watches */
    uint64_t rv;
    uint64_t compacted_rv; /* watches and continue tokens older than this get 410 */
    struct kst_res res[KST_N_RES];
    struct kst_ev *log;
    size_t n_log, cap_log;
    size_t max_log;    /* older changes are compacted away past this many */
    uint64_t drop_gen; /* bumped by drop-watches */
    int64_t n_watches;
};

void kst_init(struct kst_store *s);
void kst_destroy(struct kst_store *s);

/** Find an object (borrowed) or NULL. Lock held. */
struct kst_obj *kst_get(struct kst_store *s, int res, const char *ns, const char *name);

/**
 * Store obj (stolen, JSON object) as the new state of (ns, name): sets
 * metadata.resourceVersion, fills uid/creationTimestamp on create, logs the change
 * unless log_it is 0. Returns the new stored object (borrowed). Lock held.
 */
struct kst_obj *kst_put(struct kst_store *s, int res, const char *ns, const char *name,
                        json_t *obj, int log_it);

/** Delete; logs a DELETED change. Returns 0 or -1 when absent. Lock held. */
int kst_delete(struct kst_store *s, int res, const char *ns, const char *name);

/** The objects of a resource sorted by (namespace, name); borrowed. Lock held. */
struct kst_obj **kst_sorted(struct kst_store *s, int res, size_t *n);

/** Index of the first change with rv > after. Lock held. */
size_t kst_log_after(struct kst_store *s, uint64_t after);

/** Forget changes up to now: older resourceVersions become 410. Lock held. */
void kst_compact(struct kst_store *s);

/** Parse an object's text (new reference). */
json_t *kst_obj_json(const struct kst_obj *o);

/** RFC 3339 "now" in seconds, and MicroTime with six digits. */
void kst_now_rfc3339(char *buf, size_t len);

/** RFC 7386 JSON merge patch: target (modified in place) merged with patch (borrowed). */
json_t *kst_merge_patch(json_t *target, json_t *patch);

#endif
