/* The offline replay as one call: plan, then render the typed decision as JSON. */
#include "loop/replay.h"

#include <stdio.h>
#include <time.h>

int
replay_decide_at(struct model *m, const struct group_set *groups,
                 const struct scaleup_options *o, const struct scaledown_options *sdo,
                 int64_t now_s, json_t **out, char *err, size_t err_len)
{
    struct decision d;
    int rc = loop_plan(m, groups, o, sdo, now_s, &d, err, err_len);

    *out = NULL;
    if (rc < 0)
        return rc;
    *out = decision_json(&d);
    decision_free(&d);
    if (*out == NULL) {
        snprintf(err, err_len, "out of memory rendering the decision");
        return NSC_ERR_NOMEM;
    }
    return 0;
}

int
replay_decide(struct model *m, const struct group_set *groups, const struct scaleup_options *o,
              json_t **out, char *err, size_t err_len)
{
    struct scaledown_options sdo;

    scaledown_options_default(&sdo);
    return replay_decide_at(m, groups, o, &sdo, (int64_t)time(NULL), out, err, err_len);
}
