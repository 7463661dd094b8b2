/* The node groups of a backend after one refresh, as the core holds them: deep copies of
 * the backend's records, read by the loader and planned with by the pass. */
#ifndef NSC_GROUPS_H
#define NSC_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include <nodescaler/backend.h>

/** One instance of a group, deep-copied from the backend's sink record. */
struct instance_rec {
    char *provider_id;
    enum nsc_instance_state state;
    enum nsc_error_class error_class;
    char *error_code;    /* NULL when none */
    char *error_message; /* NULL when none */
};

/** One node group, deep-copied from the backend, with its instances. */
struct group_rec {
    char *id;
    char *name; /* NULL when the backend gave none */
    int32_t min_size;
    int32_t max_size;
    int32_t target_size;
    char *template_node_json; /* NULL when the backend cannot build a template */
    struct instance_rec *instances;
    size_t n_instances;
};

/** Every group of a backend after one refresh. Owned by whoever filled it. */
struct group_set {
    struct group_rec *groups;
    size_t n_groups;
};

/** Free every record of the set and zero it. NULL accepted. */
void group_set_free(struct group_set *set);

#endif
