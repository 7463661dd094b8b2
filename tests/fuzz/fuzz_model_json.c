/* libFuzzer target: the jansson path of the model (model_load_json, model_upsert of every
 * kind, model_parse_node), as the offline replay and the tests feed it. */
#include "config.h"

#include <jansson.h>

#include "fuzz_common.h"
#include "model/model.h"

static const char *const kinds[] = {
    "Node",     "Pod", "PodDisruptionBudget", "PersistentVolume", "PersistentVolumeClaim",
    "Namespace"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model_load_stats st = {0};
    struct model_node *n = NULL;
    struct model *m;
    json_error_t jerr;
    json_t *root;
    char err[300] = "";
    size_t i;
    int rc;

    fuzz_quiet();
    root = json_loadb((const char *)data, size, 0, &jerr);
    if (root == NULL)
        return 0;
    m = model_new();
    if (m == NULL)
        fuzz_fail("model_new failed");
    rc = model_load_json(m, root, &st, err, sizeof(err));
    fuzz_need_reason(rc, err, "model_load_json");
    /* The same object as each kind a watch may deliver, over what the load left. */
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        (void)model_upsert(m, root, kinds[i]);
    err[0] = '\0';
    rc = model_parse_node(m, root, &n, err, sizeof(err));
    fuzz_need_reason(rc, err, "model_parse_node");
    model_node_free(n);
    model_free(m);
    json_decref(root);
    return 0;
}
