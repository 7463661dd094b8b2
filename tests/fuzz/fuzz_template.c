/* libFuzzer target: a backend's template node JSON, read as the scale-up planner reads
 * it (json_loads, then model_parse_node with the group's name filled in when absent). */
#include "config.h"

#include <stdlib.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "model/model.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    struct model *m;
    struct model_node *n = NULL;
    json_error_t jerr;
    json_t *j, *meta;
    char err[256] = "";
    int rc;

    fuzz_quiet();
    m = model_new();
    j = json_loads(text, 0, &jerr);
    if (m == NULL)
        fuzz_fail("model_new failed");
    if (j != NULL) {
        meta = json_object_get(j, "metadata");
        if (json_is_object(j) && meta == NULL) {
            meta = json_object();
            json_object_set_new(j, "metadata", meta);
        }
        if (json_is_object(meta) && json_object_get(meta, "name") == NULL)
            json_object_set_new(meta, "name", json_string("template-node-for-fuzz"));
        rc = model_parse_node(m, j, &n, err, sizeof(err));
        fuzz_need_reason(rc, err, "model_parse_node");
        if (rc == 0 && n == NULL)
            fuzz_fail("model_parse_node succeeded without a node");
        if (rc != 0 && n != NULL)
            fuzz_fail("model_parse_node failed but returned a node");
        model_node_free(n);
        json_decref(j);
    }
    model_free(m);
    free(text);
    return 0;
}
