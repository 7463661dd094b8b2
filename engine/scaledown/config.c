/* Scale-down options from the daemon's configuration: flag values to the planner's units. */
#include "scaledown/scaledown.h"

#include "nsc_config.h"

/* Whole seconds, rounded up: a wait the operator asked for is never shortened. */
static int64_t
ms_to_s(int64_t ms)
{
    return ms <= 0 ? 0 : (ms + 999) / 1000;
}

static uint32_t
clamp_u32(int64_t v)
{
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void
scaledown_options_from_config(const struct nsc_config *cfg, struct scaledown_options *o)
{
    scaledown_options_default(o);
    o->enabled = cfg->scale_down_enabled;
    o->utilization_threshold = cfg->scale_down_utilization_threshold;
    o->gpu_utilization_threshold = cfg->scale_down_gpu_utilization_threshold;
    o->unneeded_time_s = ms_to_s(cfg->scale_down_unneeded_time_ms);
    o->unready_enabled = cfg->scale_down_unready_enabled;
    o->unready_time_s = ms_to_s(cfg->scale_down_unready_time_ms);
    o->delay_after_add_s = ms_to_s(cfg->scale_down_delay_after_add_ms);
    o->delay_after_delete_s = ms_to_s(cfg->scale_down_delay_after_delete_ms);
    o->delay_after_failure_s = ms_to_s(cfg->scale_down_delay_after_failure_ms);
    o->max_parallelism = clamp_u32(cfg->max_scale_down_parallelism);
    o->max_drain_parallelism = clamp_u32(cfg->max_drain_parallelism);
    o->skip_nodes_with_system_pods = cfg->skip_nodes_with_system_pods;
    o->skip_nodes_with_local_storage = cfg->skip_nodes_with_local_storage;
    o->skip_nodes_with_custom_controller_pods = cfg->skip_nodes_with_custom_controller_pods;
    o->ignore_daemonsets_utilization = cfg->ignore_daemonsets_utilization;
    o->ignore_mirror_pods_utilization = cfg->ignore_mirror_pods_utilization;
}
