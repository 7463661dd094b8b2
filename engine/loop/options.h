/* The planners' options from the daemon's flags: the one place where struct nsc_config is
 * turned into what scale-up and scale-down read. */
#ifndef NSC_LOOP_OPTIONS_H
#define NSC_LOOP_OPTIONS_H

#include "nsc_config.h"
#include "scaledown/scaledown.h"
#include "scaleup/scaleup.h"

/**
 * Fill o from cfg (borrowed; strings in o point into it, so cfg must outlive o) and the
 * priority expander's configuration text (borrowed, NULL when the chain has no priority).
 * The random seed is fixed: replaying the same snapshot gives the same decision.
 */
void loop_scaleup_options(const struct nsc_config *cfg, const char *priority_config,
                          struct scaleup_options *o);

/**
 * Fill o from cfg (borrowed): the scale-down thresholds, times (milliseconds rounded up to
 * whole seconds, so that a wait is never shortened), parallelism and drain-rule switches.
 * Flags the planner does not implement (--scale-down-delay-type-local,
 * --scale-down-simulation-timeout, --blocking-system-pod-distruption-timeout,
 * --min-replica-count) are not read.
 */
void loop_scaledown_options(const struct nsc_config *cfg, struct scaledown_options *o);

#endif
