/* The core's side of the backend ABI: loading a backend, the host table lent to it, and
 * reading its node groups and instances into core-owned records. */
#ifndef NSC_PLUGIN_H
#define NSC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <nodescaler/backend.h>

#include "loop/groups.h"

/** A loaded backend: the validated ops table, the file it came from, the dlopen handle. */
struct plugin;

/** A created backend instance with its host table. */
struct backend;

/**
 * Resolve --backend=NAME: a value containing '/' is a path; otherwise
 * DIR/NAME.so for the first DIR of $NSC_BACKEND_PATH (colon-separated; also DIR/.libs/NAME.so
 * and DIR/NAME/.libs/NAME.so for a libtool build tree) that has it, else
 * NSC_BACKEND_DIR/NAME.so. NAME may hold only letters, digits, '-' and '_'. Load and validate
 * it (see backend.h, "Acceptance rule"). On failure returns a negative status and writes into
 * err a message naming the file and the cause. *out is owned by the caller: plugin_unload().
 */
int plugin_load(const char *name_or_path, struct plugin **out, char *err, size_t err_len);

/** The validated operations table; borrowed, lives as long as the plugin. */
const struct nsc_backend_ops *plugin_ops(const struct plugin *plugin);

/** The absolute path the plugin was loaded from; borrowed. */
const char *plugin_path(const struct plugin *plugin);

/** Unload (in sanitizer builds the object stays mapped so leak stacks can name it). */
void plugin_unload(struct plugin *plugin);

/**
 * Create a backend instance of a loaded plugin with these options (copied). Builds the
 * host table (logging prefixed with the backend name, options then environment, HTTP on
 * libcurl, clocks). On failure writes the backend's reason into err.
 */
int backend_create(struct plugin *plugin, const struct nsc_option *opts, size_t n_opts,
                   struct backend **out, char *err, size_t err_len);

/** Destroy the instance (calls the backend's destroy). NULL accepted. */
void backend_destroy(struct backend *backend);

/** Call refresh; on failure err receives last_error (redacted). */
int backend_refresh(struct backend *backend, char *err, size_t err_len);

/**
 * Read node_groups and each group's group_instances into *out (owned by the caller,
 * group_set_free). Rejects records that break the ABI's rules (NULL id, duplicate id,
 * min > max, target outside [min, max]) with a message naming the group and field.
 */
int backend_read_groups(struct backend *backend, struct group_set *out, char *err,
                        size_t err_len);

/** Ask for an absolute target size; on failure err receives last_error. */
int backend_resize(struct backend *backend, const char *group_id, int32_t target, char *err,
                   size_t err_len);

/** Remove exactly these instances; on failure err receives last_error. */
int backend_evict(struct backend *backend, const char *group_id,
                  const char *const *provider_ids, size_t n_ids, char *err, size_t err_len);

/** The backend's name from its table ("static"); borrowed, lives as long as the plugin. */
const char *backend_name(const struct backend *backend);

/** The host table lent to the instance; borrowed, lives as long as the instance. */
const struct nsc_host *backend_host(const struct backend *backend);

/**
 * Call the optional group_for_node: *out (owned by the caller, group_set_free) receives
 * exactly one group, without instances. NSC_ERR_NOT_IMPLEMENTED when the backend does not
 * provide it, NSC_ERR_NOT_FOUND when no group owns the node; err says why.
 */
int backend_group_for_node(struct backend *backend, const char *provider_id,
                           struct group_set *out, char *err, size_t err_len);

/** A short lower-case name for a status ("transient"); static storage, never NULL. */
const char *plugin_status_name(int status);

/**
 * A standalone host table for running a backend outside the daemon (tests, benches):
 * real HTTP on libcurl, options from opts (copied) then environment, optional fake clock
 * (clock_ms not NULL: both clocks read *clock_ms). Owned by the caller: host_free().
 */
struct nsc_host *host_new(const char *component, const struct nsc_option *opts, size_t n_opts,
                          const int64_t *clock_ms);
/** Free a host_new() table; NULL accepted. */
void host_free(struct nsc_host *host);

#endif
