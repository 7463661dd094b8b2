/* The engine's compact cluster model: nodes, pods, PDBs, PVs, PVCs, StorageClasses and
 * namespaces parsed
 * from Kubernetes JSON, with interned strings and integer resources, kept current in place
 * by upserts and deletes (a watch) or loaded at once from a kubectl List (offline replay). */
#ifndef NSC_MODEL_H
#define NSC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <nodescaler/backend.h>

#include "model/intern.h"

struct scan_result;

/* ---- resources ---- */

/** Fixed resources; everything else (hugepages-*, nvidia.com/gpu, any domain/name) is
 * an extended resource keyed by its interned name. */
enum res_kind {
    RES_CPU = 0,       /* millicores (MilliValue) */
    RES_MEMORY = 1,    /* bytes (Value) */
    RES_EPHEMERAL = 2, /* bytes (Value) */
    RES_PODS = 3,      /* count (Value) */
    RES_N_FIXED = 4
};

struct res_ext {
    uint32_t name; /* interned resource name */
    int64_t val;   /* Value(): ceil to the unit */
};

/** A resource list; ext sorted by name id. Owned by its object. */
struct res {
    int64_t fixed[RES_N_FIXED];
    uint32_t n_ext;
    struct res_ext *ext;
};

/** Value of an extended resource (0 when absent). */
int64_t res_ext_get(const struct res *r, uint32_t name);

/* ---- labels and selectors ---- */

struct label {
    uint32_t key, val; /* interned */
};

/** Sorted by key; immutable once built; owned by its object. */
struct labelset {
    uint32_t n;
    struct label l[];
};

/** Value id of key in ls, or INTERN_NONE. ls may be NULL. */
uint32_t labels_get(const struct labelset *ls, uint32_t key);

enum sel_op { SEL_IN = 0, SEL_NOT_IN, SEL_EXISTS, SEL_DOES_NOT_EXIST, SEL_GT, SEL_LT };

/** One requirement; matchLabels entries become In with one value. */
struct sel_req {
    uint32_t key;
    uint8_t op;
    uint32_t n_vals;
    uint32_t *vals; /* interned; for Gt/Lt unused */
    int64_t num;    /* Gt/Lt operand */
};

/** metav1.LabelSelector or a nodeSelectorTerm's matchExpressions: requirements AND-ed. */
struct selector {
    uint32_t n;
    struct sel_req *reqs;
};

/** True when every requirement holds for ls (an empty selector matches everything). */
bool selector_matches(const struct intern *in, const struct selector *sel,
                      const struct labelset *ls);

/** One nodeSelectorTerm: label expressions and metadata.name field expressions. */
struct node_term {
    struct selector exprs;
    struct selector fields; /* key is the interned "metadata.name" */
};

/** NodeSelector (required node affinity, PV node affinity): terms OR-ed. */
struct node_selector {
    uint32_t n_terms;
    struct node_term *terms;
};

/** True when name/labels satisfy some term; an empty term list matches nothing. */
bool node_selector_matches(const struct intern *in, const struct node_selector *ns,
                           uint32_t node_name, const struct labelset *labels);

/* ---- scheduling spec of a pod (shared by identical pods) ---- */

enum taint_effect {
    EFFECT_ALL = 0, /* tolerations only: empty effect */
    EFFECT_NO_SCHEDULE,
    EFFECT_PREFER_NO_SCHEDULE,
    EFFECT_NO_EXECUTE
};

struct taint {
    uint32_t key, val;
    uint8_t effect;
};

struct toleration {
    uint32_t key; /* INTERN_NONE: empty key */
    uint32_t val;
    uint8_t exists; /* operator Exists */
    uint8_t effect; /* EFFECT_ALL when empty */
};

enum port_proto { PROTO_TCP = 0, PROTO_UDP, PROTO_SCTP };

struct host_port {
    uint32_t ip; /* interned; "0.0.0.0" when empty */
    uint16_t port;
    uint8_t proto;
};

/** PodAffinityTerm. */
struct affinity_term {
    struct selector sel;
    bool sel_null; /* no labelSelector: matches no pod */
    uint32_t n_ns;
    uint32_t *ns;           /* explicit namespaces */
    struct selector ns_sel; /* namespaceSelector */
    bool has_ns_sel;        /* namespaceSelector present ({} = all namespaces) */
    uint32_t topo_key;
    uint32_t n_match_keys, n_mismatch_keys;
    uint32_t *match_keys, *mismatch_keys;
};

/** TopologySpreadConstraint. */
struct spread {
    int32_t max_skew;
    int32_t min_domains; /* 0 when unset (treated as 1) */
    uint32_t topo_key;
    bool do_not_schedule;
    bool honor_affinity; /* nodeAffinityPolicy: Honor (default) */
    bool honor_taints;   /* nodeTaintsPolicy: Honor (default Ignore) */
    bool sel_null;
    struct selector sel;
    uint32_t n_match_keys;
    uint32_t *match_keys;
};

/**
 * Everything about a pod that placement depends on, except its labels and name. Pods of
 * one controller share one instance (deduplicated on a canonical key), which keeps the
 * model small and makes equivalence grouping a pointer compare.
 */
struct pod_spec {
    uint32_t refs;
    uint32_t ns;                    /* namespace (affinity terms default to it) */
    struct res req;                 /* effective request, without the implicit 1 pod */
    struct labelset *node_selector; /* spec.nodeSelector, NULL when none */
    struct node_selector *node_aff; /* required node affinity, NULL when none */
    uint32_t n_tolerations, n_ports, n_aff, n_anti, n_spread, n_claims, n_local_vols;
    struct toleration *tolerations;
    struct host_port *ports;
    struct affinity_term *aff, *anti; /* required terms only */
    struct spread *spread;            /* every constraint; only DoNotSchedule filters */
    uint32_t *claims;                 /* persistentVolumeClaim claimNames */
    uint32_t *local_vols;             /* emptyDir (not Memory) and hostPath volume names */
    int32_t priority;
    bool preempt_never;
    bool gated; /* spec.schedulingGates non-empty */
    bool host_network;
    char *key; /* the canonical dedup key (owned) */
    char *raw; /* namespace and raw text of the spec members that found this spec in
                  raw_specs (podspec.c), NULL when none (owned) */
};

/* ---- objects ---- */

enum pod_phase {
    PHASE_PENDING = 0,
    PHASE_RUNNING,
    PHASE_SUCCEEDED,
    PHASE_FAILED,
    PHASE_UNKNOWN
};

/** A pod. Strings owned unless interned. */
struct model_pod {
    char *name;
    uint32_t ns;        /* interned */
    uint32_t node;      /* interned spec.nodeName, INTERN_NONE when unbound */
    uint32_t nominated; /* interned status.nominatedNodeName */
    struct labelset *labels;
    struct labelset *annotations; /* only autoscaler-relevant keys, see model_keep_annotation */
    struct pod_spec *spec;        /* shared, refcounted */
    uint32_t owner_kind, owner_name, owner_uid; /* controller ownerReference, interned */
    uint8_t phase;
    bool terminating;   /* metadata.deletionTimestamp set */
    bool unschedulable; /* PodScheduled=False, reason Unschedulable */
    int64_t created_s;  /* creationTimestamp, Unix seconds; 0 when absent */
    int64_t deletion_s; /* deletionTimestamp, Unix seconds; 0 when absent */
    int64_t grace_s; /* spec.terminationGracePeriodSeconds; 30 (the API default) when absent */
};

/** A node. */
struct model_node {
    char *name;
    uint32_t name_id;  /* interned name */
    char *provider_id; /* spec.providerID, NULL when none */
    struct labelset *labels;
    struct labelset *annotations; /* autoscaler-relevant keys only */
    uint32_t n_taints;
    struct taint *taints;
    struct res alloc;      /* status.allocatable (capacity when allocatable is absent) */
    int64_t cap_cpu_m;     /* status.capacity cpu */
    int64_t cap_mem;       /* status.capacity memory */
    bool unschedulable;    /* spec.unschedulable */
    int8_t ready;          /* Ready condition: 1 True, 0 False, -1 Unknown/absent */
    bool deleting;         /* metadata.deletionTimestamp set */
    int64_t ready_since_s; /* lastTransitionTime of Ready, 0 when absent */
    int64_t created_s;
};

/** PodDisruptionBudget (policy/v1). */
struct model_pdb {
    char *name;
    uint32_t ns;
    struct selector sel;
    bool sel_null; /* no selector: matches nothing */
    bool has_min_available, has_max_unavailable;
    int32_t min_available, max_unavailable; /* absolute or percent, see *_percent */
    bool min_available_percent, max_unavailable_percent;
    int32_t disruptions_allowed; /* status.disruptionsAllowed */
    int32_t expected_pods;       /* status.expectedPods */
};

/** Access modes of a PV or PVC (spec.accessModes), as bits. */
enum access_mode {
    MODE_RWO = 1u << 0,  /* ReadWriteOnce */
    MODE_ROX = 1u << 1,  /* ReadOnlyMany */
    MODE_RWX = 1u << 2,  /* ReadWriteMany */
    MODE_RWOP = 1u << 3, /* ReadWriteOncePod */
    /* A mode this model does not know: a claim asking for it matches no PV. */
    MODE_UNKNOWN = 1u << 4
};

/** PersistentVolume: only what volume placement and the binder's matching read. */
struct model_pv {
    char *name;
    struct labelset *labels;        /* zone/region labels (VolumeZone) */
    struct node_selector *node_aff; /* spec.nodeAffinity.required, NULL when none */
    uint32_t class_id;              /* interned spec.storageClassName ("" when absent) */
    uint32_t claim_ns, claim_name;  /* spec.claimRef, INTERN_NONE when none */
    int64_t capacity;               /* spec.capacity.storage, bytes */
    uint8_t modes;                  /* enum access_mode bits */
    bool block;                     /* spec.volumeMode Block (else Filesystem) */
    uint32_t csi_driver;            /* interned spec.csi.driver, INTERN_NONE when not CSI */
};

/** PersistentVolumeClaim. */
struct model_pvc {
    char *name;
    uint32_t ns;
    uint32_t volume;   /* interned spec.volumeName, INTERN_NONE when unbound */
    uint32_t class_id; /* interned spec.storageClassName or the beta annotation ("" is a
                          class name too: no class, bind to PVs without one) */
    bool has_class;    /* either was set; false: the default class, if any, decides */
    bool has_selector; /* spec.selector set: PVs are not matched (labels not kept) */
    bool block;        /* spec.volumeMode Block */
    uint8_t modes;     /* enum access_mode bits */
    int64_t request;   /* spec.resources.requests.storage, bytes */
};

/** StorageClass (storage.k8s.io/v1): when its claims bind and where they can be made. */
struct model_sc {
    char *name;
    bool wait_first_consumer;   /* volumeBindingMode WaitForFirstConsumer, else Immediate */
    bool is_default;            /* the is-default-class annotation is "true" */
    bool no_provisioner;        /* kubernetes.io/no-provisioner: existing PVs only */
    uint32_t provisioner;       /* interned provisioner (the CSI driver of its volumes) */
    struct node_selector *topo; /* allowedTopologies as node terms, NULL: any node */
};

/** One driver of a CSINode. */
struct model_csi_limit {
    uint32_t driver; /* interned spec.drivers[].name */
    int64_t count;   /* allocatable.count, -1 when the driver states no limit */
};

/** CSINode (storage.k8s.io/v1): how many volumes of each CSI driver the node can attach. */
struct model_csinode {
    char *name; /* the node's name */
    uint32_t n_drivers;
    struct model_csi_limit *drivers;
};

/** Namespace (for namespaceSelector). */
struct model_ns {
    char *name;
    uint32_t name_id;
    struct labelset *labels;
};

/**
 * What the model keeps of an object it could not read (a pod, node or PDB skipped with a
 * warning), so that a skip never makes a planner more willing to act: a node running an
 * unreadable pod is not removed, a namespace with an unreadable PDB evicts nothing, an
 * unreadable node still counts as registered. Strings owned by the record.
 */
struct model_unreadable {
    char *key;         /* pods, PDBs: "ns/name"; nodes: name; "?" for an unreadable part */
    uint32_t ns;       /* pods, PDBs: interned namespace */
    bool ns_unknown;   /* pods, PDBs: metadata.namespace unreadable: any namespace */
    uint32_t node;     /* pods: interned spec.nodeName (only bound pods are kept) */
    bool node_unknown; /* pods: spec.nodeName unreadable: it may run on any node */
    char *provider_id; /* nodes: spec.providerID when readable, else NULL */
    struct labelset *labels; /* nodes: metadata.labels when readable, else NULL */
    char *reason;            /* the field and the problem, as warned */
};

/** Unreadable objects remembered per kind; past it they are only counted (n_unreadable_lost),
 * which keeps memory bounded whatever a cluster holds. */
#define MODEL_MAX_UNREADABLE 4096
/** Longest reason kept in a record (bytes). */
#define MODEL_UNREADABLE_REASON_LEN 200

/** A table of objects of one kind: slots reused after deletes, index by key. */
struct model_table {
    void **slots;
    uint32_t n_slots, cap;
    uint32_t *free_slots;
    uint32_t n_free;
    uint32_t n_live;
    struct smap index; /* key -> slot */
};

/**
 * The model. Tables hold pointers that are NULL for a free slot; iterate with
 * `for (i = 0; i < t.n_slots; i++) if (t.slots[i]) ...`. Objects are replaced, never
 * mutated, by an upsert: a pointer taken before an upsert or delete of that object is
 * dangling after it. `generation` increases on every change.
 */
struct model {
    struct intern strings;
    struct model_table nodes;    /* key: name */
    struct model_table pods;     /* key: namespace/name */
    struct model_table pdbs;     /* key: namespace/name */
    struct model_table pvs;      /* key: name */
    struct model_table pvcs;     /* key: namespace/name */
    struct model_table scs;      /* StorageClasses, key: name */
    struct model_table csinodes; /* key: name (the node's) */
    struct model_table nss;      /* key: name */
    struct model_table specs;    /* shared pod_spec, key: canonical spec text */
    /* Objects skipped as unreadable (struct model_unreadable), keyed as their kind; a
     * later readable version or a delete of the key drops the record. */
    struct model_table bad_pods, bad_nodes, bad_pdbs;
    /* Unreadable objects not recorded for want of room (MODEL_MAX_UNREADABLE): sticky
     * until the model is rebuilt, and then any node may run an unreadable pod. */
    uint32_t n_unreadable_lost;
    /* During a List load: node name -> item index, to refuse two Nodes of one name
     * (NULL otherwise); load_item is the index of the item being read and load_dup the
     * error once a duplicate is seen (owned). */
    struct smap *load_nodes;
    uint32_t load_item;
    char *load_dup;
    /* Hash of a namespace and the raw text of a pod's spec members -> slot in specs, the
     * spec's raw holding the text: pods read from text find their spec without building
     * it (a cache in front of the canonical key, which decides). */
    struct smap raw_specs;
    struct scan_result *scan; /* scratch of model_upsert_text (owned) */
    /* PVCs and PVs are listed from the API server (kube/sync.c): a claim the model lacks
     * does not exist, even in a cluster without any. A snapshot file may simply not
     * carry them: then an empty PVC table turns volume checks off. */
    bool volumes_listed;
    bool volumes_off_told; /* the warning that volume checks are off was logged */
    /* Minor version of the cluster's Kubernetes (1.NN), 0 when unknown: the simulation
     * then follows the newest rules. Set by the loop from the API server's /version or
     * --kubernetes-version; read by the filters whose defaults changed (see
     * MODEL_KUBE_MINOR_*). */
    uint32_t kube_minor;
    uint64_t generation;
    /* Interned well-known strings. */
    uint32_t s_hostname, s_zone, s_region, s_zone_legacy, s_region_legacy, s_metadata_name,
        s_daemonset, s_zero_ip, s_unschedulable_taint;
};

/* First minor versions whose scheduler (with default feature gates) uses a spread
 * constraint's minDomains and matchLabelKeys (both beta and on by default in 1.27), and its
 * nodeAffinityPolicy/nodeTaintsPolicy (beta in 1.26). Before, the fields are ignored. */
#define MODEL_KUBE_MINOR_SPREAD_MIN_DOMAINS 27
#define MODEL_KUBE_MINOR_SPREAD_MATCH_KEYS 27
#define MODEL_KUBE_MINOR_SPREAD_POLICIES 26

/** Does the cluster's version (m->kube_minor, 0 = newest) have the rule of minor `since`? */
static inline bool
model_kube_at_least(const struct model *m, uint32_t since)
{
    return m->kube_minor == 0 || m->kube_minor >= since;
}

/**
 * The minor version of a Kubernetes version text: "1.27", "v1.27.3", "v1.27.3-eks-1" (a
 * /version gitVersion) or "1.27+" (a /version minor). Only major 1 is accepted. Returns 0
 * with *minor set, or NSC_ERR_INVALID.
 */
int model_kube_minor_parse(const char *text, uint32_t *minor);

/** Counts from loading a List. */
struct model_load_stats {
    uint32_t n_nodes, n_pods, n_pdbs, n_pvs, n_pvcs, n_scs, n_namespaces, n_csinodes;
    uint32_t n_skipped; /* malformed objects, each warned about */
    uint32_t n_ignored; /* kinds the model does not use */
};

/** A new empty model (owned: model_free). NULL on NOMEM. */
struct model *model_new(void);

/** Free the model and everything in it. NULL accepted. */
void model_free(struct model *m);

/**
 * Load a kubectl `v1.List` (items carry kind), a typed list (`NodeList`, `PodList`...:
 * items without kind) or a single object. Each item is upserted; a malformed item is
 * skipped with a warning naming it and the field, and counted in stats->n_skipped.
 * root is borrowed. stats may be NULL. Returns 0, NSC_ERR_INVALID when root is not an
 * object with a kind or is a List with two Nodes of one name (err says why: which one is
 * real cannot be told, so the List is refused), or NSC_ERR_NOMEM.
 */
int model_load_json(struct model *m, json_t *root, struct model_load_stats *stats, char *err,
                    size_t err_len);

/**
 * Load a List (or a single object) from a stream, item by item: each element of "items"
 * is cut out of the bytes and parsed alone, so memory stays proportional to the model,
 * not to the document. Same rules as model_load_json; name is used in error messages.
 * Returns 0, NSC_ERR_INVALID for malformed JSON, a document that is not a Kubernetes
 * List or object (err says where), one longer than MODEL_LOAD_MAX_BYTES, or a List with
 * two Nodes of one name (err names it and both items), or NSC_ERR_NOMEM.
 */
int model_load_stream(struct model *m, FILE *f, const char *name,
                      struct model_load_stats *stats, char *err, size_t err_len);

/**
 * Bytes a document read by model_load_stream (a --cluster-snapshot file, a page of a
 * list) may have: 4 GiB, about twenty times a 450,000-pod kubectl dump. A larger one, or
 * one that never ends (/dev/zero), is refused rather than read without end.
 */
#define MODEL_LOAD_MAX_BYTES (UINT64_C(4) << 30)

/** model_load_stream with another size limit than MODEL_LOAD_MAX_BYTES (tests, tools). */
int model_load_stream_max(struct model *m, FILE *f, const char *name, uint64_t max_bytes,
                          struct model_load_stats *stats, char *err, size_t err_len);

/**
 * Load a List (or a single object) held in memory, e.g. one page of a paginated list:
 * model_load_stream over buf[0..len) (borrowed). Same rules and statuses.
 */
int model_load_buffer(struct model *m, const char *buf, size_t len, const char *name,
                      struct model_load_stats *stats, char *err, size_t err_len);

/**
 * Upsert one object from its JSON text (a list item, or a watch event's "object"), the
 * fast way: the text is checked as strictly as jansson would, but only the members the
 * model reads are built, and a pod whose scheduling-spec text was seen before reuses that
 * spec. Same result as model_upsert on the parsed text. text is borrowed. kind_hint as for
 * model_upsert. The outcome is counted in stats when not NULL (n_skipped for a malformed
 * object, which is also warned about; n_ignored for a kind the model does not use).
 * Returns 0 (upserted, ignored or skipped), NSC_ERR_INVALID when text is not well-formed
 * JSON (err says what and at which byte; the model is unchanged), or NSC_ERR_NOMEM.
 */
int model_upsert_text(struct model *m, const char *text, size_t len, const char *kind_hint,
                      struct model_load_stats *stats, char *err, size_t err_len);

/** Read and load a JSON file with model_load_stream; err names the file on failure (a
 * directory, a read error, the size limit, where the JSON goes wrong). */
int model_load_file(struct model *m, const char *path, struct model_load_stats *stats,
                    char *err, size_t err_len);

/**
 * Incremental updates, as a watch delivers them. `obj` is a complete object as the API
 * returns it (borrowed). Upsert replaces any object with the same key (nodes,
 * namespaces, PVs and StorageClasses by name, the rest by namespace/name). On a malformed
 * object the model is unchanged, a warning naming the object and the field is logged, and
 * NSC_ERR_INVALID is returned. Delete of an absent key returns NSC_ERR_NOT_FOUND.
 */
int model_upsert_node(struct model *m, json_t *obj);
int model_upsert_pod(struct model *m, json_t *obj);
int model_upsert_pdb(struct model *m, json_t *obj);
int model_upsert_pv(struct model *m, json_t *obj);
int model_upsert_pvc(struct model *m, json_t *obj);
int model_upsert_namespace(struct model *m, json_t *obj);
int model_upsert_sc(struct model *m, json_t *obj);
int model_upsert_csinode(struct model *m, json_t *obj);
/** Upsert by the object's `kind` (kind_hint used when the object has none); unknown
 * kinds return NSC_ERR_NOT_IMPLEMENTED without a warning. */
int model_upsert(struct model *m, json_t *obj, const char *kind_hint);

int model_delete_node(struct model *m, const char *name);
int model_delete_pod(struct model *m, const char *ns, const char *name);
int model_delete_pdb(struct model *m, const char *ns, const char *name);
int model_delete_pv(struct model *m, const char *name);
int model_delete_pvc(struct model *m, const char *ns, const char *name);
int model_delete_namespace(struct model *m, const char *name);
int model_delete_sc(struct model *m, const char *name);
int model_delete_csinode(struct model *m, const char *name);

/** Lookups (borrowed; NULL when absent). */
struct model_node *model_find_node(const struct model *m, const char *name);
struct model_pod *model_find_pod(const struct model *m, const char *ns, const char *name);

/**
 * Parse a Node JSON object (e.g. a backend's template node) into a standalone node that
 * is not added to the model but uses its interner. Returns 0 and *out (owned:
 * model_node_free), or NSC_ERR_INVALID with err naming the field.
 */
int model_parse_node(struct model *m, json_t *obj, struct model_node **out, char *err,
                     size_t err_len);
void model_node_free(struct model_node *n);

/** Effective request of a pod's spec JSON (see model/request.c); for tests and tools. */
int model_pod_request(struct model *m, json_t *spec, struct res *out, char *err,
                      size_t err_len);
void res_free(struct res *r);

/**
 * The first unreadable pod that may run on the node named node_id (interned): bound to
 * it, or with a node that could not be read. NULL when none. Borrowed until the next
 * change of the model. Does not see the lost ones: check m->n_unreadable_lost too.
 */
const struct model_unreadable *model_unreadable_pod_on(const struct model *m, uint32_t node_id);

/** The first unreadable PDB that may select pods of namespace ns (interned), or NULL. */
const struct model_unreadable *model_unreadable_pdb_in(const struct model *m, uint32_t ns);

/**
 * True when the node has allocatable cpu and memory: a node without them (a kubelet that
 * has not reported yet) must be neither a template for new nodes nor a place for pods.
 */
bool model_node_has_capacity(const struct model_node *n);

/** True when a pod is owned by a DaemonSet. */
bool model_pod_is_daemonset(const struct model *m, const struct model_pod *p);
/** True when the pod is a mirror (static) pod. */
bool model_pod_is_mirror(const struct model *m, const struct model_pod *p);

/** "ns/name" of a pod into buf (truncating); returns buf. */
const char *model_pod_ref(const struct model *m, const struct model_pod *p, char *buf,
                          size_t len);

/** Which annotation keys are kept: cluster-autoscaler.kubernetes.io/ prefixed, nodescaler
 * prefixed, kubernetes.io/config.mirror, a StorageClass's is-default-class and a claim's
 * volume.beta.kubernetes.io/storage-class. Others (often huge) are dropped at parse time. */
bool model_keep_annotation(const char *key);

#endif
