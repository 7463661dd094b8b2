/* The offline replay as one call: plan a model with a group set and render the decision as
 * the JSON object --output=json prints (without "dry_run" and "groups"). For tests and
 * tools that compare decisions; the pass itself works on the typed decision. */
#ifndef NSC_REPLAY_H
#define NSC_REPLAY_H

#include <jansson.h>

#include "loop/pass.h"

/**
 * loop_plan with the given options at now_s, rendered by decision_json: *out is a new
 * reference. m gains interned template names; groups, o and sdo are borrowed. Returns 0,
 * or a negative status with err set.
 */
int replay_decide_at(struct model *m, const struct group_set *groups,
                     const struct scaleup_options *o, const struct scaledown_options *sdo,
                     int64_t now_s, json_t **out, char *err, size_t err_len);

/** replay_decide_at with the scale-down planner's default options at the current time. */
int replay_decide(struct model *m, const struct group_set *groups,
                  const struct scaleup_options *o, json_t **out, char *err, size_t err_len);

#endif
