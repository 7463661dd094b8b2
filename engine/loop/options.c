/* Flags to planner options: flag values to the planners' units, in one place, so that the
 * --once pass and the control loop plan with the same reading of the flags. */
#include "loop/options.h"

#include <stdint.h>

void
loop_scaleup_options(const struct nsc_config *cfg, const char *priority_config,
                     struct scaleup_options *o)
{
    scaleup_options_default(o);
    if (cfg->expander != NULL)
        o->expander = cfg->expander;
    o->priority_config = priority_config;
    o->balance_similar = cfg->balance_similar_node_groups;
    o->balancing_ignore_labels = (const char *const *)cfg->balancing_ignore_labels.items;
    o->n_balancing_ignore_labels = cfg->balancing_ignore_labels.n;
    o->max_nodes_total = (int32_t)cfg->max_nodes_total;
    o->cores_total_max = cfg->cores_total_max;
    o->memory_total_max_gib = cfg->memory_total_max_gib;
    o->max_nodes_per_scaleup = (int32_t)cfg->max_nodes_per_scaleup;
    o->expendable_priority_cutoff = (int32_t)cfg->expendable_pods_priority_cutoff;
    o->new_pod_delay_ms = cfg->new_pod_scale_up_delay_ms;
    o->memory_difference_ratio = cfg->memory_difference_ratio;
    o->max_allocatable_difference_ratio = cfg->max_allocatable_difference_ratio;
    o->max_free_difference_ratio = cfg->max_free_difference_ratio;
    /* A fixed seed: replaying the same snapshot gives the same decision. */
    o->random_seed = 1;
}

/* Whole seconds, rounded up: a wait the operator asked for is never shortened. */
static int64_t
loop_ms_to_s(int64_t ms)
{
    return ms <= 0 ? 0 : (ms + 999) / 1000;
}

static uint32_t
loop_clamp_u32(int64_t v)
{
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void
loop_scaledown_options(const struct nsc_config *cfg, struct scaledown_options *o)
{
    scaledown_options_default(o);
    o->enabled = cfg->scale_down_enabled;
    o->utilization_threshold = cfg->scale_down_utilization_threshold;
    o->gpu_utilization_threshold = cfg->scale_down_gpu_utilization_threshold;
    o->unneeded_time_s = loop_ms_to_s(cfg->scale_down_unneeded_time_ms);
    o->unready_enabled = cfg->scale_down_unready_enabled;
    o->unready_time_s = loop_ms_to_s(cfg->scale_down_unready_time_ms);
    o->delay_after_add_s = loop_ms_to_s(cfg->scale_down_delay_after_add_ms);
    o->delay_after_delete_s = loop_ms_to_s(cfg->scale_down_delay_after_delete_ms);
    o->delay_after_failure_s = loop_ms_to_s(cfg->scale_down_delay_after_failure_ms);
    o->max_parallelism = loop_clamp_u32(cfg->max_scale_down_parallelism);
    o->max_drain_parallelism = loop_clamp_u32(cfg->max_drain_parallelism);
    o->skip_nodes_with_system_pods = cfg->skip_nodes_with_system_pods;
    o->skip_nodes_with_local_storage = cfg->skip_nodes_with_local_storage;
    o->skip_nodes_with_custom_controller_pods = cfg->skip_nodes_with_custom_controller_pods;
    o->ignore_daemonsets_utilization = cfg->ignore_daemonsets_utilization;
    o->ignore_mirror_pods_utilization = cfg->ignore_mirror_pods_utilization;
}
