/* The decision of one planning pass as data: built from a model and the backend's groups,
 * rendered as JSON (the offline replay's output and the journal's record) or as text. */
#ifndef NSC_REPLAY_H
#define NSC_REPLAY_H

#include <stdio.h>

#include <jansson.h>

#include "model/model.h"
#include "plugin/plugin.h"
#include "scaledown/scaledown.h"
#include "scaleup/scaleup.h"

/**
 * Plan once and build the decision object:
 *   {"scale_up":      [{"group": ID, "from": N, "to": M, "pods": ["ns/name", ...]}],
 *    "fits_existing": [{"pod": "ns/name", "node": NAME}],
 *    "no_scale_up":   [{"pod": "ns/name", "reasons": {GROUP_ID: "why not", ...}}],
 *    "scale_down":    [],
 *    "unremovable":   [],
 *    "summary":       {"nodes": N, "pods": N, "pending": N, "groups": N}}
 * A no_scale_up entry carries "reason" instead of "reasons" when the pod was never
 * considered (an expendable pod). Node names of capacity still being created read
 * "upcoming-<group>-<n>". scale_down lists {"node","group"} the scale-down planner would
 * remove in this pass had their unneeded time passed, unremovable every other node as
 * {"node","reason"} (see scaledown_replay). This form plans scale-down with its default
 * options at the current time; m gains interned template names; groups and o are borrowed.
 * Returns 0 and *out (new reference), or a negative status with err set.
 */
int replay_decide(struct model *m, const struct group_set *groups,
                  const struct scaleup_options *o, json_t **out, char *err, size_t err_len);

/** replay_decide with the scale-down options (borrowed) and the time of the pass. */
int replay_decide_at(struct model *m, const struct group_set *groups,
                     const struct scaleup_options *o, const struct scaledown_options *sdo,
                     int64_t now_s, json_t **out, char *err, size_t err_len);

/** Convert a scale-up result into the decision object above (new reference; NULL on
 * NOMEM). m and groups must be those the result was planned from. */
json_t *replay_decision_json(const struct model *m, const struct group_set *groups,
                             const struct scaleup_result *r);

/** Print a decision object for people. Returns 0 or NSC_ERR_INVALID for a malformed one. */
int replay_render_text(json_t *decision, FILE *out);

#endif
