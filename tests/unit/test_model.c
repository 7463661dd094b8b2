/* Check suite for engine/model: Quantity grammar, effective requests, List loading and
 * incremental updates, the text scanner (checked against jansson), from the fixtures in
 * tests/data/model. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "model/parse_util.h"
#include "model/quantity.h"
#include "model/scan.h"

static char *
data_path(const char *name)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof(buf), "%s/tests/data/model/%s", top ? top : "..", name);
    return buf;
}

START_TEST(quantity_table)
{
    FILE *f = fopen(data_path("quantities.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = 0;
        char *t1 = strchr(line, '\t');
        ck_assert_ptr_nonnull(t1);
        *t1 = 0;
        char *t2 = strchr(t1 + 1, '\t');
        ck_assert_ptr_nonnull(t2);
        *t2 = 0;
        const char *in = line, *a = t1 + 1, *b = t2 + 1;
        int64_t milli = 7, units = 7;
        char err[200] = "";
        int rc = quantity_parse_cstr(in, &milli, &units, err, sizeof(err));
        if (strcmp(a, "ERROR") == 0) {
            ck_assert_msg(rc < 0, "\"%s\" accepted as %lld", in, (long long)milli);
            ck_assert_msg(strstr(err, b) != NULL, "\"%s\": error \"%s\" lacks \"%s\"", in, err,
                          b);
            ck_assert_msg(strstr(err, "invalid quantity") != NULL, "%s", err);
        } else {
            ck_assert_msg(rc == 0, "\"%s\" refused: %s", in, err);
            ck_assert_msg(milli == strtoll(a, NULL, 10), "\"%s\": milli %lld want %s", in,
                          (long long)milli, a);
            ck_assert_msg(units == strtoll(b, NULL, 10), "\"%s\": units %lld want %s", in,
                          (long long)units, b);
        }
        n++;
    }
    fclose(f);
    ck_assert_int_ge(n, 40);
}
END_TEST

START_TEST(quantity_views_checked_separately)
{
    int64_t units = 0;
    char err[200];
    ck_assert_int_eq(quantity_parse_cstr("1E", NULL, &units, err, sizeof(err)), 0);
    ck_assert_int_eq(units, 1000000000000000000LL);
    ck_assert_int_lt(quantity_parse_cstr("1E", &units, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(quantity_parse_cstr("7Ei", NULL, &units, err, sizeof(err)), 0);
    ck_assert_int_eq(units, 7LL << 60);
    ck_assert_int_eq(
        quantity_parse_cstr("0.3333333333333333333333333Ki", NULL, &units, err, sizeof(err)),
        0);
    ck_assert_int_eq(units, 342); /* 341.33... rounded up */
}
END_TEST

START_TEST(request_table)
{
    json_error_t jerr;
    json_t *cases = json_load_file(data_path("requests.json"), 0, &jerr);
    ck_assert_msg(cases != NULL, "%s", jerr.text);
    struct model *m = model_new();
    size_t i;
    json_t *tc;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        struct res r;
        char err[300] = "";
        int rc = model_pod_request(m, json_object_get(tc, "spec"), &r, err, sizeof(err));
        json_t *want_err = json_object_get(tc, "error");
        if (want_err) {
            ck_assert_msg(rc < 0, "%s: accepted", name);
            ck_assert_msg(strstr(err, json_string_value(want_err)), "%s: error \"%s\"", name,
                          err);
            continue;
        }
        ck_assert_msg(rc == 0, "%s: %s", name, err);
        json_t *exp = json_object_get(tc, "expect");
        static const char *const fixed[] = {"cpu", "memory", "ephemeral-storage", "pods"};
        for (int k = 0; k < RES_N_FIXED; k++) {
            json_t *v = json_object_get(exp, fixed[k]);
            ck_assert_msg(r.fixed[k] == (v ? json_integer_value(v) : 0), "%s: %s = %lld", name,
                          fixed[k], (long long)r.fixed[k]);
        }
        const char *key;
        json_t *v;
        uint32_t n_ext = 0;
        json_object_foreach(exp, key, v)
        {
            if (!strchr(key, '/'))
                continue;
            n_ext++;
            uint32_t id = intern_cstr(&m->strings, key);
            ck_assert_msg(res_ext_get(&r, id) == json_integer_value(v), "%s: %s", name, key);
        }
        ck_assert_msg(r.n_ext == n_ext, "%s: %u extended resources", name, r.n_ext);
        res_free(&r);
    }
    model_free(m);
    json_decref(cases);
}
END_TEST

static struct model *
load_list(struct model_load_stats *st)
{
    struct model *m = model_new();
    char err[300];
    ck_assert_int_eq(model_load_file(m, data_path("list.json"), st, err, sizeof(err)), 0);
    return m;
}

START_TEST(list_load)
{
    struct model_load_stats st;
    struct model *m = load_list(&st);
    ck_assert_uint_eq(st.n_nodes, 2);
    ck_assert_uint_eq(st.n_pods, 2);
    ck_assert_uint_eq(st.n_pdbs, 1);
    ck_assert_uint_eq(st.n_pvs, 1);
    ck_assert_uint_eq(st.n_skipped, 3);
    ck_assert_uint_eq(st.n_ignored, 1);
    struct model_node *n1 = model_find_node(m, "n1");
    ck_assert_ptr_nonnull(n1);
    ck_assert_int_eq(n1->alloc.fixed[RES_CPU], 3800);
    ck_assert_int_eq(n1->alloc.fixed[RES_MEMORY], 15LL << 30);
    ck_assert_int_eq(n1->cap_cpu_m, 4000);
    ck_assert_int_eq(n1->ready, 1);
    ck_assert_int_eq(n1->created_s, 1704164645);
    ck_assert_str_eq(n1->provider_id, "static://g1/n1");
    ck_assert_uint_eq(n1->n_taints, 1);
    ck_assert_int_eq(n1->taints[0].effect, EFFECT_NO_SCHEDULE);
    ck_assert_int_eq(res_ext_get(&n1->alloc, intern_cstr(&m->strings, "nvidia.com/gpu")), 2);
    ck_assert_uint_eq(n1->annotations->n, 1); /* last-applied-configuration dropped */
    struct model_node *n2 = model_find_node(m, "n2");
    ck_assert(n2->unschedulable);
    ck_assert_int_eq(n2->ready, 0);
    ck_assert_int_eq(n2->alloc.fixed[RES_CPU], 2000); /* capacity stands in */
    ck_assert_ptr_null(model_find_node(m, "bad-node"));
    struct model_pod *w1 = model_find_pod(m, "default", "web-1");
    struct model_pod *w2 = model_find_pod(m, "default", "web-2");
    ck_assert_ptr_nonnull(w1);
    ck_assert_ptr_nonnull(w2);
    ck_assert_ptr_eq(w1->spec, w2->spec); /* identical specs are shared */
    ck_assert_uint_eq(w1->spec->refs, 2);
    ck_assert_uint_eq(w1->spec->n_ports, 1);
    ck_assert_int_eq(w1->spec->ports[0].port, 8080);
    ck_assert_str_eq(intern_str(&m->strings, w1->node), "n1");
    ck_assert_uint_eq(w2->node, INTERN_NONE);
    ck_assert(w2->unschedulable);
    ck_assert(!w1->unschedulable);
    ck_assert_str_eq(intern_str(&m->strings, w1->owner_kind), "ReplicaSet");
    ck_assert_ptr_null(model_find_pod(m, "default", "badtype"));
    model_free(m);
}
END_TEST

START_TEST(incremental_updates)
{
    struct model *m = load_list(NULL);
    uint64_t gen = m->generation;
    json_t *pod =
        json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:[{s:s}]}, s:{s:s}}", "kind", "Pod", "metadata",
                  "name", "web-2", "namespace", "default", "spec", "nodeName", "n2",
                  "containers", "name", "c", "status", "phase", "Running");
    ck_assert_int_eq(model_upsert(m, pod, NULL), 0);
    ck_assert_uint_gt(m->generation, gen);
    struct model_pod *w2 = model_find_pod(m, "default", "web-2");
    ck_assert_str_eq(intern_str(&m->strings, w2->node), "n2");
    ck_assert_uint_eq(m->pods.n_live, 2);
    /* The shared spec lost one user. */
    ck_assert_uint_eq(model_find_pod(m, "default", "web-1")->spec->refs, 1);
    /* A malformed update leaves the old object in place. */
    json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_integer(3));
    ck_assert_int_eq(model_upsert_pod(m, pod), NSC_ERR_INVALID);
    ck_assert_str_eq(intern_str(&m->strings, model_find_pod(m, "default", "web-2")->node),
                     "n2");
    json_decref(pod);
    ck_assert_int_eq(model_delete_pod(m, "default", "web-2"), 0);
    ck_assert_int_eq(model_delete_pod(m, "default", "web-2"), NSC_ERR_NOT_FOUND);
    ck_assert_int_eq(model_delete_node(m, "n1"), 0);
    ck_assert_ptr_null(model_find_node(m, "n1"));
    ck_assert_uint_eq(m->nodes.n_live, 1);
    ck_assert_int_eq(model_delete_pdb(m, "default", "web-pdb"), 0);
    ck_assert_int_eq(model_delete_pv(m, "pv1"), 0);
    /* A StorageClass replaced, then deleted; an unknown mode leaves the old one. */
    json_t *sc = json_pack("{s:s, s:{s:s}, s:s, s:s}", "kind", "StorageClass", "metadata",
                           "name", "fast", "provisioner", "example.com/csi",
                           "volumeBindingMode", "WaitForFirstConsumer");
    ck_assert_int_eq(model_upsert(m, sc, NULL), 0);
    ck_assert(((const struct model_sc *)table_get(&m->scs, "fast"))->wait_first_consumer);
    json_object_set_new(sc, "volumeBindingMode", json_string("Immediate"));
    ck_assert_int_eq(model_upsert_sc(m, sc), 0);
    ck_assert(!((const struct model_sc *)table_get(&m->scs, "fast"))->wait_first_consumer);
    json_object_set_new(sc, "volumeBindingMode", json_string("Eventually"));
    ck_assert_int_eq(model_upsert_sc(m, sc), NSC_ERR_INVALID);
    ck_assert_uint_eq(m->scs.n_live, 1);
    json_decref(sc);
    ck_assert_int_eq(model_delete_sc(m, "fast"), 0);
    ck_assert_int_eq(model_delete_sc(m, "fast"), NSC_ERR_NOT_FOUND);
    /* Slots are reused after deletes. */
    json_t *node = json_pack("{s:{s:s}}", "metadata", "name", "n3");
    ck_assert_int_eq(model_upsert_node(m, node), 0);
    ck_assert_uint_eq(m->nodes.n_slots, 2);
    json_decref(node);
    model_free(m);
}
END_TEST

START_TEST(malformed_documents)
{
    struct model *m = model_new();
    char err[300] = "";
    json_t *j = json_pack("{s:s}", "items", "x");
    ck_assert_int_eq(model_load_json(m, j, NULL, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "kind") != NULL);
    json_decref(j);
    j = json_pack("{s:s, s:i}", "kind", "List", "items", 3);
    ck_assert_int_eq(model_load_json(m, j, NULL, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "items") != NULL);
    json_decref(j);
    ck_assert_int_lt(model_load_file(m, "/nonexistent/x.json", NULL, err, sizeof(err)), 0);
    ck_assert(strstr(err, "/nonexistent/x.json") != NULL);
    /* Typed lists carry no kind in their items. */
    j = json_pack("{s:s, s:[{s:{s:s}}]}", "kind", "NodeList", "items", "metadata", "name", "a");
    struct model_load_stats st;
    ck_assert_int_eq(model_load_json(m, j, &st, err, sizeof(err)), 0);
    ck_assert_uint_eq(st.n_nodes, 1);
    json_decref(j);
    model_free(m);
}
END_TEST

START_TEST(selectors)
{
    struct model *m = model_new();
    json_t *node = json_pack("{s:{s:s, s:{s:s, s:s}}}", "metadata", "name", "x", "labels",
                             "gen", "5", "zone", "a");
    struct model_node *n;
    char err[200];
    ck_assert_int_eq(model_parse_node(m, node, &n, err, sizeof(err)), 0);
    struct {
        const char *json;
        bool want;
    } cases[] = {
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\","
         "\"values\":[\"4\"]}]}]}",
         true},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Lt\","
         "\"values\":[\"5\"]}]}]}",
         false},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":"
         "\"NotIn\",\"values\":[\"b\"]}]}]}",
         true},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"nope\",\"operator\":"
         "\"NotIn\",\"values\":[\"b\"]}]}]}",
         true},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"nope\",\"operator\":"
         "\"Exists\"}]},"
         "{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"x\"]}]"
         "}]}",
         true},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":"
         "\"DoesNotExist\"}]}]}",
         false},
        {"{\"nodeSelectorTerms\":[]}", false},
        {"{\"nodeSelectorTerms\":[{}]}", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);
        ck_assert_ptr_nonnull(j);
        struct pod_spec dummy;
        (void)dummy;
        /* Parse through a pod's required node affinity to use the public path. */
        json_t *pod =
            json_pack("{s:{s:s,s:s}, s:{s:[], s:{s:{s:O}}}}", "metadata", "name", "p",
                      "namespace", "d", "spec", "containers", "affinity", "nodeAffinity",
                      "requiredDuringSchedulingIgnoredDuringExecution", j);
        ck_assert_int_eq(model_upsert_pod(m, pod), 0);
        struct model_pod *p = model_find_pod(m, "d", "p");
        ck_assert_ptr_nonnull(p->spec->node_aff);
        ck_assert_msg(node_selector_matches(&m->strings, p->spec->node_aff, n->name_id,
                                            n->labels) == cases[i].want,
                      "case %zu", i);
        json_decref(pod);
        json_decref(j);
    }
    model_node_free(n);
    json_decref(node);
    model_free(m);
}
END_TEST

static int
load_text(struct model *m, const char *text, struct model_load_stats *st, char *err, size_t len)
{
    FILE *f = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    int rc = model_load_stream(m, f, "doc.json", st, err, len);
    fclose(f);
    return rc;
}

START_TEST(stream_loading)
{
    struct model *m = model_new();
    struct model_load_stats st;
    char err[300] = "";
    /* kubectl sorts keys: "items" comes before "kind" in a typed list. */
    ck_assert_int_eq(
        load_text(m,
                  "{\"apiVersion\":\"v1\",\"items\":[{\"metadata\":{\"name\":"
                  "\"a\\\"}\"}},{\"metadata\":{\"name\":\"b\"}}],\"kind\":\"NodeList\"}",
                  &st, err, sizeof(err)),
        0);
    ck_assert_uint_eq(st.n_nodes, 2);
    ck_assert_ptr_nonnull(model_find_node(m, "a\"}"));
    /* A single object. */
    ck_assert_int_eq(load_text(m, "{\"kind\":\"Node\",\"metadata\":{\"name\":\"c\"}}", &st, err,
                               sizeof(err)),
                     0);
    ck_assert_uint_eq(st.n_nodes, 1);
    ck_assert_uint_eq(m->nodes.n_live, 3);
    /* Truncated and broken documents name the file. */
    ck_assert_int_eq(
        load_text(m, "{\"kind\":\"List\",\"items\":[{\"kind\":\"Node\"", &st, err, sizeof(err)),
        NSC_ERR_INVALID);
    ck_assert(strstr(err, "doc.json: truncated") != NULL);
    ck_assert_int_eq(
        load_text(m, "{\"kind\":\"List\",\"items\":[{\"kind\":,}]}", &st, err, sizeof(err)),
        NSC_ERR_INVALID);
    ck_assert(strstr(err, "items[0]") != NULL);
    ck_assert_int_eq(load_text(m, "[1,2]", &st, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_int_eq(load_text(m, "{\"items\":[]}", &st, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "kind") != NULL);
    model_free(m);
}
END_TEST

/* ---- the text scanner and text ingest ---- */

static char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* jansson's verdict on a text, the reference the scanner must agree with. */
static bool
jansson_accepts(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    json_decref(j);
    return j != NULL;
}

static bool
scanner_accepts(const char *text, size_t len, char *err, size_t err_len)
{
    struct scan_result r = {0};
    int rc = scan_item(text, len, true, &r, err, err_len);
    scan_result_free(&r);
    ck_assert(rc == 0 || rc == NSC_ERR_INVALID);
    return rc == 0;
}

static const struct {
    const char *text;
    bool ok;
} scan_cases[] = {
    {"{}", true},
    {" [ ] ", true},
    {"{\"a\":1}x", false},
    {"\"str\"", false},
    {"1", false},
    {"", false},
    {"{\"a\":1,}", false},
    {"[1,]", false},
    {"{\"a\" 1}", false},
    {"{\"a\":1 \"b\":2}", false},
    {"{1:2}", false},
    {"{\"a\":1,\"a\":2}", true},
    {"{\"kind\":\"Pod\",\"kind\":\"Node\"}", true},
    {"{\"a\":tru}", false},
    {"{\"a\":nulll}", false},
    {"{\"a\":[true,false,null]}", true},
    {"{\"a\":-0}", true},
    {"{\"a\":01}", false},
    {"{\"a\":1.}", false},
    {"{\"a\":.5}", false},
    {"{\"a\":-}", false},
    {"{\"a\":1e}", false},
    {"{\"a\":1e+}", false},
    {"{\"a\":1E-2}", true},
    {"{\"a\":9223372036854775807}", true},
    {"{\"a\":9223372036854775808}", false},
    {"{\"a\":-9223372036854775808}", true},
    {"{\"a\":-9223372036854775809}", false},
    {"{\"a\":1e400}", false},
    {"{\"a\":-1e400}", false},
    {"{\"a\":1e-400}", true},
    {"{\"a\":123456789012345678901234567890.5}", true},
    {"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", true},
    {"{\"a\":\"\\x\"}", false},
    {"{\"a\":\"\\u00e9\\u20AC\"}", true},
    {"{\"a\":\"\\u00g9\"}", false},
    {"{\"a\":\"\\u00e\"}", false},
    {"{\"a\":\"\\u0000\"}", false},
    {"{\"\\u0000\":1}", false},
    {"{\"a\":\"\\ud83d\\ude00\"}", true},
    {"{\"a\":\"\\ud83d\"}", false},
    {"{\"a\":\"\\ud83dx\"}", false},
    {"{\"a\":\"\\ud83d\\u0041\"}", false},
    {"{\"a\":\"\\ude00\"}", false},
    {"{\"\\u006bind\":\"Pod\"}", true},
    {"{\"a\":\"tab\there\"}", false},
    {"{\"a\":\"nl\nhere\"}", false},
    {"{\"a\":\"h\xc3\xa9\"}", true},
    {"{\"a\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}", true},
    {"{\"a\":\"\xc3\"}", false},
    {"{\"a\":\"\xc0\x80\"}", false},
    {"{\"a\":\"\xe0\x80\x80\"}", false},
    {"{\"a\":\"\xed\xa0\x80\"}", false},
    {"{\"a\":\"\xf4\x90\x80\x80\"}", false},
    {"{\"a\":\"\xf5\x80\x80\x80\"}", false},
    {"{\"a\":\"\x80\"}", false},
    {"{\"a\":\xc3\xa9}", false},
    {"{\"a\":\"x", false},
    {"{\"a\":\"x\\", false},
    {"{\"a\":[1,2", false},
    {"{\"a\"", false},
    {"{\"a\":", false},
    {"{", false},
    {"{\"metadata\":{\"labels\":{\"a\":\"b\",}}}", false},
    {"{\"metadata\":{\"annotations\":{\"nodescaler.io/x\":[}}}", false},
    {"{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":1e999}}}]}}", false},
    {"{\"status\":{\"images\":[{\"sizeBytes\":99999999999999999999}]}}", false},
};

START_TEST(scan_verdicts)
{
    for (size_t i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++) {
        const char *t = scan_cases[i].text;
        char err[200] = "";
        bool got = scanner_accepts(t, strlen(t), err, sizeof(err));
        ck_assert_msg(jansson_accepts(t, strlen(t)) == scan_cases[i].ok,
                      "case %zu (%s): jansson disagrees with the table", i, t);
        ck_assert_msg(got == scan_cases[i].ok, "case %zu (%s): scanner says %s (%s)", i, t,
                      got ? "ok" : "refused", err);
        if (!got)
            ck_assert_msg(strstr(err, "at byte") != NULL, "case %zu: error lacks a place: %s",
                          i, err);
    }
    /* A NUL byte inside a string and outside one. */
    ck_assert(!scanner_accepts("{\"a\":\"x\0y\"}", 11, NULL, 0));
    ck_assert(!scanner_accepts("{\"a\":1\0}", 8, NULL, 0));
}
END_TEST

/* Nesting right at jansson's limit and past it, in a skipped subtree and in a kept one. */
START_TEST(scan_deep_nesting)
{
    static const char *const prefixes[] = {
        "{\"status\":{\"x\":", "{\"metadata\":{\"labels\":", "{\"spec\":{\"affinity\":"};
    for (size_t pi = 0; pi < 3; pi++) {
        for (size_t depth = 2040; depth <= 2052; depth++) {
            size_t cap = depth * 2 + 64, n = 0;
            char *t = malloc(cap);
            ck_assert_ptr_nonnull(t);
            n += (size_t)snprintf(t, cap, "%s", prefixes[pi]);
            for (size_t d = 0; d < depth; d++)
                t[n++] = '[';
            for (size_t d = 0; d < depth; d++)
                t[n++] = ']';
            t[n++] = '}';
            t[n++] = '}';
            bool j = jansson_accepts(t, n);
            ck_assert_msg(scanner_accepts(t, n, NULL, 0) == j, "prefix %zu depth %zu", pi,
                          depth);
            /* Through the model too: never a crash, refused exactly when jansson refuses. */
            struct model *m = model_new();
            char err[200];
            int rc = model_upsert_text(m, t, n, "Pod", NULL, err, sizeof(err));
            ck_assert_int_eq(rc == 0, j);
            model_free(m);
            free(t);
        }
    }
}
END_TEST

/* needle in a scan buffer (not NUL-terminated); NULL when absent. */
static const char *
buf_has(const struct scan_buf *b, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->p + i, needle, n) == 0)
            return b->p + i;
    return NULL;
}

START_TEST(scan_keeps_only_read_members)
{
    size_t len;
    char *text = read_all(data_path("scan-list.json"), &len);
    /* The first item: from its opening brace to the one that closes it. */
    const char *s = strstr(text, "\"items\": [") + 10;
    while (*s != '{')
        s++;
    json_error_t jerr;
    json_t *first = json_loadb(s, len - (size_t)(s - text), JSON_DISABLE_EOF_CHECK, &jerr);
    ck_assert_msg(first != NULL, "%s", jerr.text);
    size_t n = jerr.position;
    struct scan_result r = {0};
    char err[200] = "";
    ck_assert_int_eq(scan_item(s, n, true, &r, err, sizeof(err)), 0);
    ck_assert(r.has_kind);
    ck_assert_str_eq(r.kind, "Pod");
    ck_assert_uint_eq(r.n_spec, 1);
    ck_assert(r.spec_is_obj);
    json_t *doc = json_loadb(r.doc.p, r.doc.len, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s", jerr.text);
    /* Kept, decoded as jansson decodes the original. */
    json_t *labels = json_object_get(json_object_get(doc, "metadata"), "labels");
    json_t *labels0 = json_object_get(json_object_get(first, "metadata"), "labels");
    ck_assert(json_equal(labels, labels0));
    ck_assert_str_eq(json_string_value(json_object_get(labels, "emoji")), "\xf0\x9f\x98\x80");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "app")), "web");
    json_t *ann = json_object_get(json_object_get(doc, "metadata"), "annotations");
    ck_assert_uint_eq(json_object_size(ann), 2);
    ck_assert_ptr_nonnull(json_object_get(ann, "nodescaler.io/x"));
    ck_assert_ptr_null(
        json_object_get(ann, "kubectl.kubernetes.io/last-applied-configuration"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(doc, "metadata"), "name")),
        "esc-\"q\"-1");
    /* Dropped: never copied. */
    ck_assert_ptr_null(buf_has(&r.doc, "managedFields"));
    ck_assert_ptr_null(buf_has(&r.doc, "containerStatuses"));
    ck_assert_ptr_null(buf_has(&r.doc, "podIP"));
    ck_assert_ptr_null(buf_has(&r.spec_key, "livenessProbe"));
    ck_assert_ptr_null(buf_has(&r.spec_key, "image"));
    /* The spec's key members went to spec_key, the rest stayed. */
    ck_assert_ptr_nonnull(buf_has(&r.spec_key, "\"containers\":"));
    ck_assert_ptr_null(buf_has(&r.doc, "containers"));
    ck_assert_ptr_nonnull(buf_has(&r.doc, "\"nodeName\":\"n1\""));
    /* Without split, the spec is whole in doc and spec_key is left alone. */
    size_t key_len = r.spec_key.len;
    ck_assert_int_eq(scan_item(s, n, false, &r, err, sizeof(err)), 0);
    ck_assert_uint_eq(r.spec_key.len, key_len);
    ck_assert_ptr_nonnull(buf_has(&r.doc, "\"containers\":"));
    scan_result_free(&r);
    json_decref(doc);
    json_decref(first);
    free(text);
}
END_TEST

static const char *
istr(const struct model *m, uint32_t id)
{
    return id == INTERN_NONE ? "(none)" : intern_str(&m->strings, id);
}

static void
same_labels(const struct model *a, const struct labelset *la, const struct model *b,
            const struct labelset *lb, const char *what)
{
    ck_assert_msg((la ? la->n : 0) == (lb ? lb->n : 0), "%s: label counts differ", what);
    for (uint32_t i = 0; la && i < la->n; i++) {
        uint32_t k =
            intern_find(&b->strings, istr(a, la->l[i].key), strlen(istr(a, la->l[i].key)));
        ck_assert_msg(k != INTERN_NONE, "%s: label %s missing", what, istr(a, la->l[i].key));
        ck_assert_str_eq(istr(a, la->l[i].val), istr(b, labels_get(lb, k)));
    }
}

static void
same_res(const struct model *a, const struct res *ra, const struct model *b,
         const struct res *rb)
{
    for (int i = 0; i < RES_N_FIXED; i++)
        ck_assert_int_eq(ra->fixed[i], rb->fixed[i]);
    ck_assert_uint_eq(ra->n_ext, rb->n_ext);
    for (uint32_t i = 0; i < ra->n_ext; i++) {
        const char *name = istr(a, ra->ext[i].name);
        ck_assert_int_eq(ra->ext[i].val,
                         res_ext_get(rb, intern_find(&b->strings, name, strlen(name))));
    }
}

/* Every object of a is in b with the same fields (a and b have their own interners). */
static void
same_model(const struct model *a, const struct model *b)
{
    ck_assert_uint_eq(a->pods.n_live, b->pods.n_live);
    ck_assert_uint_eq(a->nodes.n_live, b->nodes.n_live);
    ck_assert_uint_eq(a->pdbs.n_live, b->pdbs.n_live);
    ck_assert_uint_eq(a->pvs.n_live, b->pvs.n_live);
    ck_assert_uint_eq(a->pvcs.n_live, b->pvcs.n_live);
    ck_assert_uint_eq(a->nss.n_live, b->nss.n_live);
    ck_assert_uint_eq(a->scs.n_live, b->scs.n_live);
    ck_assert_uint_eq(a->specs.n_live, b->specs.n_live);
    for (uint32_t i = 0; i < a->pvcs.n_slots; i++) {
        const struct model_pvc *p = a->pvcs.slots[i], *q;
        char key[600];
        if (!p)
            continue;
        snprintf(key, sizeof(key), "%s/%s", istr(a, p->ns), p->name);
        q = table_get(&b->pvcs, key);
        ck_assert_msg(q != NULL, "claim %s missing", key);
        ck_assert_str_eq(istr(a, p->volume), istr(b, q->volume));
        ck_assert_str_eq(istr(a, p->class_id), istr(b, q->class_id));
        ck_assert_int_eq(p->has_class, q->has_class);
        ck_assert_int_eq(p->has_selector, q->has_selector);
        ck_assert_int_eq(p->block, q->block);
        ck_assert_uint_eq(p->modes, q->modes);
        ck_assert_int_eq(p->request, q->request);
    }
    for (uint32_t i = 0; i < a->pvs.n_slots; i++) {
        const struct model_pv *p = a->pvs.slots[i];
        if (!p)
            continue;
        const struct model_pv *q = table_get(&b->pvs, p->name);
        ck_assert_msg(q != NULL, "volume %s missing", p->name);
        ck_assert_str_eq(istr(a, p->class_id), istr(b, q->class_id));
        ck_assert_str_eq(istr(a, p->claim_ns), istr(b, q->claim_ns));
        ck_assert_str_eq(istr(a, p->claim_name), istr(b, q->claim_name));
        ck_assert_int_eq(p->capacity, q->capacity);
        ck_assert_uint_eq(p->modes, q->modes);
        ck_assert_int_eq(p->block, q->block);
        ck_assert_int_eq(p->node_aff != NULL, q->node_aff != NULL);
    }
    for (uint32_t i = 0; i < a->scs.n_slots; i++) {
        const struct model_sc *p = a->scs.slots[i];
        if (!p)
            continue;
        const struct model_sc *q = table_get(&b->scs, p->name);
        ck_assert_msg(q != NULL, "class %s missing", p->name);
        ck_assert_int_eq(p->wait_first_consumer, q->wait_first_consumer);
        ck_assert_int_eq(p->is_default, q->is_default);
        ck_assert_int_eq(p->no_provisioner, q->no_provisioner);
        ck_assert_uint_eq(p->topo ? p->topo->n_terms : 99, q->topo ? q->topo->n_terms : 99);
    }
    for (uint32_t i = 0; i < a->pods.n_slots; i++) {
        const struct model_pod *p = a->pods.slots[i];
        if (!p)
            continue;
        const struct model_pod *q = model_find_pod(b, istr(a, p->ns), p->name);
        ck_assert_msg(q != NULL, "pod %s missing", p->name);
        ck_assert_str_eq(istr(a, p->node), istr(b, q->node));
        ck_assert_str_eq(istr(a, p->nominated), istr(b, q->nominated));
        ck_assert_str_eq(istr(a, p->owner_kind), istr(b, q->owner_kind));
        ck_assert_str_eq(istr(a, p->owner_name), istr(b, q->owner_name));
        ck_assert_str_eq(istr(a, p->owner_uid), istr(b, q->owner_uid));
        ck_assert_int_eq(p->phase, q->phase);
        ck_assert_int_eq(p->terminating, q->terminating);
        ck_assert_int_eq(p->unschedulable, q->unschedulable);
        ck_assert_int_eq(p->created_s, q->created_s);
        ck_assert_int_eq(p->deletion_s, q->deletion_s);
        ck_assert_int_eq(p->grace_s, q->grace_s);
        same_labels(a, p->labels, b, q->labels, p->name);
        same_labels(a, p->annotations, b, q->annotations, p->name);
        ck_assert_str_eq(p->spec->key, q->spec->key);
        ck_assert_uint_eq(p->spec->refs, q->spec->refs);
        same_res(a, &p->spec->req, b, &q->spec->req);
        ck_assert_uint_eq(p->spec->n_ports, q->spec->n_ports);
        ck_assert_uint_eq(p->spec->n_claims, q->spec->n_claims);
        ck_assert_uint_eq(p->spec->n_local_vols, q->spec->n_local_vols);
        ck_assert_uint_eq(p->spec->n_tolerations, q->spec->n_tolerations);
        ck_assert_uint_eq(p->spec->n_anti, q->spec->n_anti);
        ck_assert_uint_eq(p->spec->n_spread, q->spec->n_spread);
        ck_assert_int_eq(p->spec->priority, q->spec->priority);
        ck_assert_int_eq(p->spec->preempt_never, q->spec->preempt_never);
    }
    for (uint32_t i = 0; i < a->nodes.n_slots; i++) {
        const struct model_node *n = a->nodes.slots[i];
        if (!n)
            continue;
        const struct model_node *o = model_find_node(b, n->name);
        ck_assert_msg(o != NULL, "node %s missing", n->name);
        ck_assert_str_eq(n->provider_id ? n->provider_id : "-",
                         o->provider_id ? o->provider_id : "-");
        same_labels(a, n->labels, b, o->labels, n->name);
        same_labels(a, n->annotations, b, o->annotations, n->name);
        ck_assert_uint_eq(n->n_taints, o->n_taints);
        for (uint32_t t = 0; t < n->n_taints; t++) {
            ck_assert_str_eq(istr(a, n->taints[t].key), istr(b, o->taints[t].key));
            ck_assert_str_eq(istr(a, n->taints[t].val), istr(b, o->taints[t].val));
            ck_assert_int_eq(n->taints[t].effect, o->taints[t].effect);
        }
        same_res(a, &n->alloc, b, &o->alloc);
        ck_assert_int_eq(n->cap_cpu_m, o->cap_cpu_m);
        ck_assert_int_eq(n->cap_mem, o->cap_mem);
        ck_assert_int_eq(n->unschedulable, o->unschedulable);
        ck_assert_int_eq(n->ready, o->ready);
        ck_assert_int_eq(n->deleting, o->deleting);
        ck_assert_int_eq(n->ready_since_s, o->ready_since_s);
        ck_assert_int_eq(n->created_s, o->created_s);
    }
}

static void
same_stats(const struct model_load_stats *a, const struct model_load_stats *b)
{
    ck_assert_uint_eq(a->n_nodes, b->n_nodes);
    ck_assert_uint_eq(a->n_pods, b->n_pods);
    ck_assert_uint_eq(a->n_pdbs, b->n_pdbs);
    ck_assert_uint_eq(a->n_pvs, b->n_pvs);
    ck_assert_uint_eq(a->n_pvcs, b->n_pvcs);
    ck_assert_uint_eq(a->n_namespaces, b->n_namespaces);
    ck_assert_uint_eq(a->n_scs, b->n_scs);
    ck_assert_uint_eq(a->n_skipped, b->n_skipped);
    ck_assert_uint_eq(a->n_ignored, b->n_ignored);
}

/* The text path (scanner, pruned trees, spec cache) builds what the tree path builds. */
START_TEST(text_ingest_matches_tree)
{
    /* The fixtures here and a real kubectl 1.20 dump. */
    static const char *const files[] = {"scan-list.json", "list.json",
                                        "../replay/kubectl-1.20-dump.json"};
    for (size_t fi = 0; fi < 3; fi++) {
        size_t len;
        char *text = read_all(data_path(files[fi]), &len);
        json_error_t jerr;
        json_t *root = json_loadb(text, len, 0, &jerr);
        ck_assert_msg(root != NULL, "%s", jerr.text);
        struct model *a = model_new(), *b = model_new();
        struct model_load_stats sa, sb;
        char err[300] = "";
        ck_assert_int_eq(model_load_buffer(a, text, len, files[fi], &sa, err, sizeof(err)), 0);
        ck_assert_int_eq(model_load_json(b, root, &sb, err, sizeof(err)), 0);
        same_stats(&sa, &sb);
        same_model(a, b);
        same_model(b, a);
        /* Again into the same models: now every spec text is known, so plain pods are read
         * straight from the bytes. */
        ck_assert_int_eq(model_load_buffer(a, text, len, files[fi], &sa, err, sizeof(err)), 0);
        ck_assert_int_eq(model_load_json(b, root, &sb, err, sizeof(err)), 0);
        same_stats(&sa, &sb);
        same_model(a, b);
        same_model(b, a);
        /* Item by item through the public text entry, as a watch would deliver them. */
        struct model *c = model_new();
        struct model_load_stats sc = {0};
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(root, "items"), i, it)
        {
            char *one = json_dumps(it, JSON_INDENT(2));
            ck_assert_int_eq(
                model_upsert_text(c, one, strlen(one), NULL, &sc, err, sizeof(err)), 0);
            free(one);
        }
        same_stats(&sc, &sb);
        same_model(c, b);
        if (fi == 0) {
            /* Shared specs: the same text in one namespace, the same canonical spec in a
             * different order, and not across namespaces. */
            struct model_pod *p1 = model_find_pod(a, "ns-a", "esc-\"q\"-1");
            struct model_pod *p2 = model_find_pod(a, "ns-a", "esc-\"q\"-2");
            struct model_pod *p3 = model_find_pod(a, "ns-a", "same-spec-other-order");
            ck_assert_ptr_nonnull(p1);
            ck_assert_ptr_eq(p1->spec, p2->spec);
            ck_assert_ptr_eq(p1->spec, p3->spec);
            ck_assert_ptr_ne(model_find_pod(a, "ns-b", "same-spec-other-ns")->spec,
                             model_find_pod(a, "ns-a", "same-spec-ns-a")->spec);
            /* Duplicate keys: the last one wins, as in jansson. */
            struct model_pod *d = model_find_pod(a, "ns-a", "dup-spec");
            ck_assert_int_eq(d->spec->req.fixed[RES_CPU], 2000);
            ck_assert_uint_eq(d->node, INTERN_NONE);
            ck_assert_int_eq(model_find_pod(a, "ns-a", "dup-member")->spec->req.fixed[RES_CPU],
                             3000);
            ck_assert_ptr_nonnull(model_find_pod(a, "ns-a", "dup-kind"));
            ck_assert_ptr_null(model_find_node(a, "dup-kind"));
            ck_assert_ptr_null(model_find_pod(a, "ns-a", "bad-quantity-2"));
            ck_assert_ptr_nonnull(model_find_node(a, "n1"));
            /* Claims, volumes and classes: what the volume binder reads, from the text
             * (a claim's spec.resources shares its name with a pod's spec-key member). */
            const struct model_pvc *w = table_get(&a->pvcs, "ns-a/pvc-wait");
            ck_assert_ptr_nonnull(w);
            ck_assert_int_eq(w->request, 3LL << 30);
            ck_assert_uint_eq(w->modes, MODE_RWOP | MODE_UNKNOWN);
            ck_assert(w->has_class && w->has_selector && w->block);
            ck_assert_str_eq(istr(a, w->class_id), "local");
            const struct model_pvc *beta = table_get(&a->pvcs, "ns-a/pvc-beta");
            ck_assert(beta->has_class);
            ck_assert_str_eq(istr(a, beta->class_id), "old");
            ck_assert(
                !((const struct model_pvc *)table_get(&a->pvcs, "ns-a/pvc-1"))->has_class);
            ck_assert_ptr_null(table_get(&a->pvcs, "ns-a/pvc-bad-size"));
            const struct model_pv *pv = table_get(&a->pvs, "pv-local");
            ck_assert_int_eq(pv->capacity, 5LL << 30);
            ck_assert_uint_eq(pv->modes, MODE_RWO | MODE_RWOP);
            ck_assert_str_eq(istr(a, pv->claim_name), "pvc-wait");
            ck_assert_str_eq(istr(a, pv->class_id), "local");
            const struct model_sc *cls = table_get(&a->scs, "local");
            ck_assert_ptr_nonnull(cls);
            ck_assert(cls->wait_first_consumer && cls->is_default && !cls->no_provisioner);
            ck_assert_uint_eq(cls->topo->n_terms, 1);
            ck_assert_uint_eq(cls->topo->terms[0].exprs.reqs[0].n_vals, 2);
            ck_assert_ptr_null(table_get(&a->scs, "bad-mode"));
            ck_assert_uint_eq(sa.n_scs, 1);
        }
        model_free(a);
        model_free(b);
        model_free(c);
        json_decref(root);
        free(text);
    }
}
END_TEST

/* The raw-spec cache follows the specs it names: freed with them, rebuilt after. */
START_TEST(text_spec_cache_lifetime)
{
    static const char *const pod_fmt =
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\"},"
        "\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"%s\"}}}]}}";
    struct model *m = model_new();
    char text[400], err[200];
    for (int round = 0; round < 3; round++) {
        snprintf(text, sizeof(text), pod_fmt, "a", "1");
        ck_assert_int_eq(model_upsert_text(m, text, strlen(text), NULL, NULL, err, sizeof(err)),
                         0);
        snprintf(text, sizeof(text), pod_fmt, "b", "1");
        ck_assert_int_eq(model_upsert_text(m, text, strlen(text), NULL, NULL, err, sizeof(err)),
                         0);
        struct model_pod *a = model_find_pod(m, "ns", "a");
        ck_assert_ptr_eq(a->spec, model_find_pod(m, "ns", "b")->spec);
        ck_assert_uint_eq(a->spec->refs, 2);
        ck_assert_uint_eq(m->raw_specs.n, 1);
        /* b changes spec: the old one keeps one user, the new one has its own entry. */
        snprintf(text, sizeof(text), pod_fmt, "b", "2");
        ck_assert_int_eq(model_upsert_text(m, text, strlen(text), NULL, NULL, err, sizeof(err)),
                         0);
        ck_assert_int_eq(model_find_pod(m, "ns", "b")->spec->req.fixed[RES_CPU], 2000);
        ck_assert_uint_eq(m->raw_specs.n, 2);
        ck_assert_int_eq(model_delete_pod(m, "ns", "a"), 0);
        ck_assert_int_eq(model_delete_pod(m, "ns", "b"), 0);
        ck_assert_uint_eq(m->raw_specs.n, 0);
        ck_assert_uint_eq(m->specs.n_live, 0);
    }
    /* Malformed JSON leaves the model alone and says where. */
    ck_assert_int_eq(
        model_upsert_text(m, "{\"kind\":\"Pod\",", 14, NULL, NULL, err, sizeof(err)),
        NSC_ERR_INVALID);
    ck_assert(strstr(err, "at byte") != NULL);
    ck_assert_uint_eq(m->pods.n_live, 0);
    model_free(m);
}
END_TEST

/* Fuzz-style: every truncation of a fixture, and random byte changes to it. The scanner's
 * verdict must be jansson's; when both accept, text and tree ingest agree. */
START_TEST(text_truncation_and_mutation)
{
    size_t len;
    char *text = read_all(data_path("scan-list.json"), &len);
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    char err[300];
    /* Every cut in the first items, then every 13th byte (the rest repeats their shapes). */
    for (size_t n = 0; n < len; n += n < 3000 ? 1 : 13) {
        struct model *m = model_new();
        ck_assert_int_eq(model_load_buffer(m, text, n, "cut.json", NULL, err, sizeof(err)),
                         NSC_ERR_INVALID);
        model_free(m);
    }
    /* Single objects: a pod with escapes and a plain one, every prefix and random changes.
     * Both models first hold the unchanged pod, so the changed one meets a known spec
     * text and the plain pod is read straight from the bytes when it stays plain. */
    static const char *const starts[] = {
        "\"items\": [", "{\"kind\": \"Pod\", \"metadata\": {\"name\": \"plain-1\""};
    int both_ok = 0;
    unsigned seed = 12345;
    for (size_t si = 0; si < 2; si++) {
        const char *s = strstr(text, starts[si]);
        ck_assert_ptr_nonnull(s);
        if (si == 0)
            s += strlen(starts[0]);
        while (*s != '{')
            s++;
        json_error_t jerr;
        json_t *orig = json_loadb(s, len - (size_t)(s - text), JSON_DISABLE_EOF_CHECK, &jerr);
        ck_assert_ptr_nonnull(orig);
        size_t n1 = jerr.position;
        char *buf = malloc(n1);
        ck_assert_ptr_nonnull(buf);
        for (size_t n = 0; n <= n1; n++)
            ck_assert_int_eq(scanner_accepts(s, n, NULL, 0), jansson_accepts(s, n));
        static const char bytes[] = "\"\\{}[],:u0e-. \x80\xc3\xed\xf0\x01";
        for (int iter = 0; iter < 2000; iter++) {
            memcpy(buf, s, n1);
            int changes = 1 + (int)(rand_r(&seed) % 3);
            for (int k = 0; k < changes; k++)
                buf[rand_r(&seed) % n1] = bytes[rand_r(&seed) % (sizeof(bytes) - 1)];
            size_t n = rand_r(&seed) % 8 ? n1 : rand_r(&seed) % n1;
            bool j = jansson_accepts(buf, n);
            ck_assert_msg(scanner_accepts(buf, n, err, sizeof(err)) == j,
                          "item %zu iteration %d: jansson %s, scanner %s", si, iter,
                          j ? "accepts" : "refuses", j ? err : "accepts");
            if (!j)
                continue;
            both_ok++;
            struct model *a = model_new(), *b = model_new();
            ck_assert_int_eq(model_upsert_text(a, s, n1, "Pod", NULL, err, sizeof(err)), 0);
            model_upsert(b, orig, "Pod");
            json_t *tree = json_loadb(buf, n, 0, &jerr);
            struct model_load_stats sa = {0}, sb = {0};
            ck_assert_int_eq(model_upsert_text(a, buf, n, "Pod", &sa, err, sizeof(err)), 0);
            int rc = model_upsert(b, tree, "Pod");
            if (rc == NSC_ERR_NOT_IMPLEMENTED)
                sb.n_ignored++;
            else if (rc < 0)
                sb.n_skipped++;
            ck_assert_uint_eq(sa.n_skipped, sb.n_skipped);
            ck_assert_uint_eq(sa.n_ignored, sb.n_ignored);
            same_model(a, b);
            same_model(b, a);
            json_decref(tree);
            model_free(a);
            model_free(b);
        }
        free(buf);
        json_decref(orig);
    }
    ck_assert_int_gt(both_ok, 200);
    free(text);
}
END_TEST

/* The List splitter reads 1 MiB at a time: a string that spans two reads, cut anywhere
 * (before or after a backslash, on an escaped quote), is carried over whole. */
START_TEST(stream_chunk_boundaries)
{
    static const char head[] = "{\"kind\":\"List\",\"items\":[{\"kind\":\"Node\",\"metadata\":"
                               "{\"name\":\"n\",\"annotations\":{\"nodescaler.io/big\":\"";
    static const char tail[] = "\"}}}]}";
    static const char pattern[] = "\\\"\\\\x\\u00e9";
    size_t hl = strlen(head), tl = strlen(tail), pl = strlen(pattern);
    for (size_t shift = 0; shift < 24; shift++) {
        size_t pad = (1u << 20) - hl - 12 + shift, n = hl + pad + 4 * pl + tl;
        char *doc = malloc(n + 1);
        ck_assert_ptr_nonnull(doc);
        memcpy(doc, head, hl);
        memset(doc + hl, 'a', pad);
        for (int r = 0; r < 4; r++)
            memcpy(doc + hl + pad + (size_t)r * pl, pattern, pl);
        memcpy(doc + n - tl, tail, tl);
        doc[n] = 0;
        json_error_t jerr;
        json_t *ref = json_loadb(doc, n, 0, &jerr);
        ck_assert_msg(ref != NULL, "%s", jerr.text);
        const char *want = json_string_value(json_object_get(
            json_object_get(
                json_object_get(json_array_get(json_object_get(ref, "items"), 0), "metadata"),
                "annotations"),
            "nodescaler.io/big"));
        struct model *m = model_new();
        struct model_load_stats st;
        char err[300] = "";
        ck_assert_int_eq(load_text(m, doc, &st, err, sizeof(err)), 0);
        ck_assert_uint_eq(st.n_nodes, 1);
        struct model_node *node = model_find_node(m, "n");
        ck_assert_ptr_nonnull(node);
        ck_assert_ptr_nonnull(node->annotations);
        ck_assert_str_eq(intern_str(&m->strings, node->annotations->l[0].val), want);
        model_free(m);
        json_decref(ref);
        free(doc);
    }
}
END_TEST

/* ---- objects the model cannot read ---- */

/* stderr into a temporary file while a call runs, to read the warnings it logs. */
struct capture {
    int saved;
    FILE *f;
};

static void
capture_begin(struct capture *c)
{
    fflush(stderr);
    c->f = tmpfile();
    ck_assert_ptr_nonnull(c->f);
    c->saved = dup(2);
    ck_assert_int_ge(c->saved, 0);
    ck_assert_int_ge(dup2(fileno(c->f), 2), 0);
}

/* The captured text (owned: free). */
static char *
capture_end(struct capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    long n = ftell(c->f);
    char *text = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    ck_assert_ptr_nonnull(text);
    rewind(c->f);
    size_t got = n > 0 ? fread(text, 1, (size_t)n, c->f) : 0;
    text[got] = 0;
    fclose(c->f);
    return text;
}

static uint32_t
id_of(const struct model *m, const char *s)
{
    return intern_find(&m->strings, s, strlen(s));
}

/* The three ways objects arrive: a snapshot read as text (the stream splitter and the
 * scanner), a parsed tree, and one object at a time as a watch delivers them. */
enum ingest_way { WAY_STREAM = 0, WAY_TREE, WAY_WATCH, WAY_N };

static void
ingest(struct model *m, enum ingest_way way, const char *list, struct model_load_stats *st)
{
    char err[300] = "";
    json_error_t jerr;
    json_t *root = json_loads(list, 0, &jerr);
    ck_assert_msg(root != NULL, "%s", jerr.text);
    memset(st, 0, sizeof(*st));
    if (way == WAY_STREAM) {
        ck_assert_int_eq(model_load_buffer(m, list, strlen(list), "list", st, err, sizeof(err)),
                         0);
    } else if (way == WAY_TREE) {
        ck_assert_int_eq(model_load_json(m, root, st, err, sizeof(err)), 0);
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(root, "items"), i, it)
        {
            char *one = json_dumps(it, JSON_COMPACT);
            ck_assert_int_eq(model_upsert_text(m, one, strlen(one), NULL, st, err, sizeof(err)),
                             0);
            free(one);
        }
    }
    json_decref(root);
}

#define POD_ON(name, node, extra_meta, extra_spec)                                             \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name                                         \
    "\",\"namespace\":\"default\"" extra_meta "},\"spec\":{\"nodeName\":" node                 \
    ",\"containers\":[{\"name\":\"c\"}]" extra_spec "},"                                       \
    "\"status\":{\"phase\":\"Running\"}}"

static const char unreadable_list[] = "{\"kind\":\"List\",\"items\":["
                                      "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}},"
                                      "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n2\"}},"
                                      "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n3\"}},"
    /* a toleration operator the model does not know */
    POD_ON("bad-tol", "\"n1\"", "",
           ",\"tolerations\":[{\"key\":\"k\",\"operator\":\"Gt\"}]") ","
    /* a timestamp that is not RFC 3339 */
    POD_ON("bad-time", "\"n2\"", ",\"creationTimestamp\":\"yesterday\"", "") ","
    /* unbound: holds nothing on any node */
    POD_ON("bad-pending", "null", "", ",\"tolerations\":[{\"operator\":\"Gt\"}]") "," POD_ON(
        "good", "\"n3\"", "", "") "]}";

/* A bound pod the model refuses is remembered against its node, whichever way it came,
 * until a readable version or a delete of it. */
START_TEST(unreadable_pods_remembered)
{
    for (int way = 0; way < WAY_N; way++) {
        struct model *m = model_new();
        struct model_load_stats st;
        ingest(m, (enum ingest_way)way, unreadable_list, &st);
        ck_assert_uint_eq(st.n_skipped, 3);
        ck_assert_uint_eq(st.n_pods, 1);
        ck_assert_uint_eq(m->bad_pods.n_live, 2);
        const struct model_unreadable *u = model_unreadable_pod_on(m, id_of(m, "n1"));
        ck_assert_msg(u != NULL, "way %d: n1 has no unreadable pod", way);
        ck_assert_str_eq(u->key, "default/bad-tol");
        ck_assert_msg(strstr(u->reason, "operator"), "%s", u->reason);
        u = model_unreadable_pod_on(m, id_of(m, "n2"));
        ck_assert_ptr_nonnull(u);
        ck_assert_str_eq(u->key, "default/bad-time");
        ck_assert_msg(strstr(u->reason, "creationTimestamp"), "%s", u->reason);
        ck_assert_ptr_null(model_unreadable_pod_on(m, id_of(m, "n3")));

        /* The pod becomes readable: the record goes. */
        static const char fixed[] = POD_ON("bad-tol", "\"n1\"", "", "");
        char err[300];
        ck_assert_int_eq(
            model_upsert_text(m, fixed, strlen(fixed), NULL, NULL, err, sizeof(err)), 0);
        ck_assert_ptr_nonnull(model_find_pod(m, "default", "bad-tol"));
        ck_assert_ptr_null(model_unreadable_pod_on(m, id_of(m, "n1")));
        /* Unreadable again, through the tree way: back, and the last readable version
         * stays as it was. */
        json_t *bad = json_loads(
            POD_ON("bad-tol", "\"n1\"", "", ",\"tolerations\":[{\"operator\":\"Lt\"}]"), 0,
            NULL);
        ck_assert_int_eq(model_upsert_pod(m, bad), NSC_ERR_INVALID);
        json_decref(bad);
        ck_assert_ptr_nonnull(model_unreadable_pod_on(m, id_of(m, "n1")));
        /* Deletes clear it, also of a pod the model never held. */
        ck_assert_int_eq(model_delete_pod(m, "default", "bad-tol"), 0);
        ck_assert_ptr_null(model_unreadable_pod_on(m, id_of(m, "n1")));
        ck_assert_int_eq(model_delete_pod(m, "default", "bad-time"), 0);
        ck_assert_ptr_null(model_unreadable_pod_on(m, id_of(m, "n2")));
        ck_assert_int_eq(model_delete_pod(m, "default", "bad-time"), NSC_ERR_NOT_FOUND);
        ck_assert_uint_eq(m->bad_pods.n_live, 0);

        /* A node that cannot be read applies to every node. */
        static const char lost[] = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\","
                                   "\"namespace\":\"default\"},\"spec\":{\"nodeName\":7}}";
        ck_assert_int_eq(model_upsert_text(m, lost, strlen(lost), NULL, NULL, err, sizeof(err)),
                         0);
        u = model_unreadable_pod_on(m, id_of(m, "n3"));
        ck_assert_ptr_nonnull(u);
        ck_assert(u->node_unknown);
        model_free(m);
    }
}
END_TEST

/* Memory stays bounded: past MODEL_MAX_UNREADABLE records only a count grows. */
START_TEST(unreadable_records_bounded)
{
    struct model *m = model_new();
    char text[400], err[200];
    for (int i = 0; i < MODEL_MAX_UNREADABLE + 10; i++) {
        snprintf(text, sizeof(text),
                 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\",\"namespace\":\"d\","
                 "\"creationTimestamp\":\"soon\"},\"spec\":{\"nodeName\":\"n\"}}",
                 i);
        ck_assert_int_eq(model_upsert_text(m, text, strlen(text), NULL, NULL, err, sizeof(err)),
                         0);
    }
    ck_assert_uint_eq(m->bad_pods.n_live, MODEL_MAX_UNREADABLE);
    ck_assert_uint_eq(m->n_unreadable_lost, 10);
    model_free(m);
}
END_TEST

/* A node whose numbers cannot be read keeps its identity, so that it still counts as a
 * registered member of its group; a PDB that cannot be read is named by namespace. */
START_TEST(unreadable_nodes_and_pdbs_remembered)
{
    static const char list[] =
        "{\"kind\":\"List\",\"items\":["
        "{\"kind\":\"Node\",\"metadata\":{\"name\":\"big\",\"labels\":{\"pool\":\"a\"}},"
        "\"spec\":{\"providerID\":\"exoscale://1\"},"
        "\"status\":{\"capacity\":{\"cpu\":\"1e999\",\"memory\":\"1Gi\"}}},"
        "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"guard\","
        "\"namespace\":\"web\"},\"spec\":{\"minAvailable\":\"half\"}}]}";
    for (int way = 0; way < WAY_N; way++) {
        struct model *m = model_new();
        struct model_load_stats st;
        ingest(m, (enum ingest_way)way, list, &st);
        ck_assert_uint_eq(st.n_skipped, 2);
        ck_assert_ptr_null(model_find_node(m, "big"));
        ck_assert_uint_eq(m->bad_nodes.n_live, 1);
        const struct model_unreadable *u = NULL;
        for (uint32_t i = 0; i < m->bad_nodes.n_slots && !u; i++)
            u = m->bad_nodes.slots[i];
        ck_assert_str_eq(u->key, "big");
        ck_assert_str_eq(u->provider_id, "exoscale://1");
        ck_assert_ptr_nonnull(u->labels);
        ck_assert_str_eq(intern_str(&m->strings, labels_get(u->labels, id_of(m, "pool"))), "a");
        ck_assert_msg(strstr(u->reason, "status.capacity"), "%s", u->reason);
        u = model_unreadable_pdb_in(m, id_of(m, "web"));
        ck_assert_ptr_nonnull(u);
        ck_assert_str_eq(u->key, "web/guard");
        ck_assert_ptr_null(model_unreadable_pdb_in(m, id_of(m, "default")));
        /* Readable versions replace the records. */
        static const char node[] =
            "{\"kind\":\"Node\",\"metadata\":{\"name\":\"big\"},"
            "\"status\":{\"capacity\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}";
        static const char pdb[] = "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":"
                                  "\"guard\",\"namespace\":\"web\"},\"spec\":{}}";
        char err[300];
        ck_assert_int_eq(model_upsert_text(m, node, strlen(node), NULL, NULL, err, sizeof(err)),
                         0);
        ck_assert_int_eq(model_upsert_text(m, pdb, strlen(pdb), NULL, NULL, err, sizeof(err)),
                         0);
        ck_assert_uint_eq(m->bad_nodes.n_live, 0);
        ck_assert_ptr_null(model_unreadable_pdb_in(m, id_of(m, "web")));
        model_free(m);
    }
}
END_TEST

/* A node that reports no resources must never stand for its group's new nodes. */
START_TEST(node_capacity_known)
{
    struct model *m = model_new();
    json_t *empty = json_loads("{\"kind\":\"Node\",\"metadata\":{\"name\":\"e\"},\"status\":"
                               "{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
                               0, NULL),
           *full = json_loads("{\"kind\":\"Node\",\"metadata\":{\"name\":\"f\"},\"status\":"
                              "{\"allocatable\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}}",
                              0, NULL);
    ck_assert_int_eq(model_upsert_node(m, empty), 0);
    ck_assert_int_eq(model_upsert_node(m, full), 0);
    ck_assert(!model_node_has_capacity(model_find_node(m, "e")));
    ck_assert(model_node_has_capacity(model_find_node(m, "f")));
    json_decref(empty);
    json_decref(full);
    model_free(m);
}
END_TEST

/* A snapshot never read without end: /dev/zero, a directory, a size limit. */
START_TEST(snapshot_input_bounded)
{
    struct model *m = model_new();
    char err[400] = "";
    ck_assert_int_eq(model_load_file(m, "/dev/zero", NULL, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "/dev/zero: not JSON at byte 0"), "%s", err);
    ck_assert_int_eq(model_load_file(m, "/", NULL, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "/: is a directory"), "%s", err);
    /* Text after the document. */
    static const char trail[] = "{\"kind\":\"List\",\"items\":[]}\n  x";
    ck_assert_int_eq(
        model_load_buffer(m, trail, strlen(trail), "trail", NULL, err, sizeof(err)),
        NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "trail: not JSON at byte 29"), "%s", err);
    /* Past the limit, with a limit of 1 MiB and a List of 3 MiB. */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    fputs("{\"kind\":\"List\",\"items\":[", f);
    for (int i = 0; i < 30000; i++)
        fprintf(
            f, "%s{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns-%06d\"},\"x\":\"%060d\"}",
            i ? "," : "", i, 0);
    fputs("]}", f);
    ck_assert_int_gt(ftell(f), 3 << 20);
    rewind(f);
    ck_assert_int_eq(model_load_stream_max(m, f, "big.json", 1 << 20, NULL, err, sizeof(err)),
                     NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "big.json: larger than the size limit of 1048576 bytes"), "%s",
                  err);
    rewind(f);
    ck_assert_int_eq(model_load_stream_max(m, f, "big.json", 4 << 20, NULL, err, sizeof(err)),
                     0);
    fclose(f);
    model_free(m);
}
END_TEST

/* A List's own members are JSON as much as its items: the streaming loader refuses a
 * malformed one, as jansson does. The first two are fuzzing findings. */
START_TEST(list_envelope_checked)
{
    static const char *const files[] = {"model_diff-list-member-without-colon.json",
                                        "model_diff-list-key-bad-utf8.json"};
    static const char *const lists[] = {
        "{\"kind\":\"List\",\"x\" 1,\"items\":[]}",
        "{\"kind\":\"List\",\"items\":[{\"kind\":\"Namespace\",\"metadata\":{\"name\":"
        "\"a\"}}],}",
        "{\"kind\":\"List\",\"a\":tru,\"items\":[]}",
        "{\"kind\":\"List\",\"items\":[{\"kind\":\"Namespace\",\"metadata\":{\"name\":"
        "\"a\"}} {\"kind\":\"Namespace\",\"metadata\":{\"name\":\"b\"}}]}",
        "{\"kind\":\"List\",\"items\":[],\"metadata\":{\"resourceVersion\":\"\xff\"}}",
    };
    const char *top = getenv("top_srcdir");
    char path[4096], err[400];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct model *m = model_new();
        snprintf(path, sizeof(path), "%s/tests/data/fuzz/findings/%s", top ? top : "..",
                 files[i]);
        err[0] = '\0';
        ck_assert_int_eq(model_load_file(m, path, NULL, err, sizeof(err)), NSC_ERR_INVALID);
        ck_assert_msg(strstr(err, "invalid JSON outside the items"), "%s: %s", files[i], err);
        model_free(m);
    }
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct model *m = model_new();
        err[0] = '\0';
        ck_assert_int_eq(
            model_load_buffer(m, lists[i], strlen(lists[i]), "list", NULL, err, sizeof(err)),
            NSC_ERR_INVALID);
        ck_assert_msg(strstr(err, "list: invalid JSON outside the items"), "case %zu: %s", i,
                      err);
        model_free(m);
    }
    /* Whitespace, key order and non-object items stay accepted. */
    static const char ok[] =
        " {\"items\" : [ {\"kind\":\"Namespace\",\"metadata\":{\"name\":"
        "\"a\"}} ,\n {\"kind\":\"Namespace\",\"metadata\":{\"name\":\"b\"}}"
        "] , \"kind\" : \"List\", \"metadata\": {\"resourceVersion\": \"7\"}} ";
    struct model *m = model_new();
    struct model_load_stats st = {0};
    ck_assert_int_eq(model_load_buffer(m, ok, strlen(ok), "ok", &st, err, sizeof(err)), 0);
    ck_assert_int_eq(st.n_namespaces, 2);
    model_free(m);
}
END_TEST

/* Two Nodes of one name in a List: which is real cannot be told, so the List is refused,
 * naming the node and both items, whichever loader reads it. */
START_TEST(duplicate_node_names_refused)
{
    static const char list[] = "{\"kind\":\"List\",\"items\":["
                               "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}},"
                               "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}},"
                               "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},\"spec\":{"
                               "\"unschedulable\":true}}]}";
    static const char typed[] = "{\"items\":[{\"metadata\":{\"name\":\"a\"}},"
                                "{\"metadata\":{\"name\":\"a\"}}],\"kind\":\"NodeList\"}";
    char err[400] = "";
    struct model *m = model_new();
    ck_assert_int_eq(model_load_buffer(m, list, strlen(list), "snap", NULL, err, sizeof(err)),
                     NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "snap: items[0] and items[2] are both Node \"n1\""), "%s", err);
    model_free(m);
    m = model_new();
    ck_assert_int_eq(model_load_buffer(m, typed, strlen(typed), "snap", NULL, err, sizeof(err)),
                     NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "items[0] and items[1] are both Node \"a\""), "%s", err);
    model_free(m);
    m = model_new();
    json_t *root = json_loads(list, 0, NULL);
    ck_assert_int_eq(model_load_json(m, root, NULL, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "items[0] and items[2] are both Node \"n1\""), "%s", err);
    json_decref(root);
    /* One List loaded twice into one model is no duplicate. */
    static const char once[] = "{\"kind\":\"List\",\"items\":["
                               "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}}]}";
    model_free(m);
    m = model_new();
    ck_assert_int_eq(model_load_buffer(m, once, strlen(once), "a", NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(model_load_buffer(m, once, strlen(once), "a", NULL, err, sizeof(err)), 0);
    model_free(m);
}
END_TEST

/* A pod whose spec has no member the scheduling spec is made of: the text way and the
 * tree way give the same verdict (skipped) and the same warning. */
START_TEST(pod_without_containers_both_ways)
{
    static const char pod[] = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":"
                              "\"d\"},\"spec\":{\"nodeName\":\"n1\"}}";
    char *logs[2];
    struct model_load_stats st[2];
    for (int way = 0; way < 2; way++) {
        struct model *m = model_new();
        struct capture c;
        char err[200] = "";
        memset(&st[way], 0, sizeof(st[way]));
        capture_begin(&c);
        if (way == 0) {
            ck_assert_int_eq(
                model_upsert_text(m, pod, strlen(pod), NULL, &st[way], err, sizeof(err)), 0);
        } else {
            json_t *o = json_loads(pod, 0, NULL);
            ck_assert_int_eq(model_load_json(m, o, &st[way], err, sizeof(err)), 0);
            json_decref(o);
        }
        logs[way] = capture_end(&c);
        ck_assert_ptr_null(model_find_pod(m, "d", "p"));
        ck_assert_ptr_nonnull(model_unreadable_pod_on(m, id_of(m, "n1")));
        model_free(m);
    }
    ck_assert_uint_eq(st[0].n_skipped, 1);
    ck_assert_uint_eq(st[1].n_skipped, 1);
    for (int way = 0; way < 2; way++)
        ck_assert_msg(strstr(logs[way], "skipping pod d/p: field spec.containers: missing"),
                      "way %d logged \"%s\"", way, logs[way]);
    ck_assert_str_eq(strchr(logs[0], ']'), strchr(logs[1], ']'));
    free(logs[0]);
    free(logs[1]);
}
END_TEST

static Suite *
model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, quantity_table);
    tcase_add_test(tc, quantity_views_checked_separately);
    tcase_add_test(tc, request_table);
    tcase_add_test(tc, list_load);
    tcase_add_test(tc, incremental_updates);
    tcase_add_test(tc, malformed_documents);
    tcase_add_test(tc, selectors);
    tcase_add_test(tc, stream_loading);
    tcase_add_test(tc, unreadable_pods_remembered);
    tcase_add_test(tc, unreadable_records_bounded);
    tcase_add_test(tc, unreadable_nodes_and_pdbs_remembered);
    tcase_add_test(tc, node_capacity_known);
    tcase_add_test(tc, snapshot_input_bounded);
    tcase_add_test(tc, list_envelope_checked);
    tcase_add_test(tc, duplicate_node_names_refused);
    tcase_add_test(tc, pod_without_containers_both_ways);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("text");
    tcase_set_timeout(ts, 120);
    tcase_add_test(ts, scan_verdicts);
    tcase_add_test(ts, scan_deep_nesting);
    tcase_add_test(ts, scan_keeps_only_read_members);
    tcase_add_test(ts, text_ingest_matches_tree);
    tcase_add_test(ts, text_spec_cache_lifetime);
    tcase_add_test(ts, text_truncation_and_mutation);
    tcase_add_test(ts, stream_chunk_boundaries);
    suite_add_tcase(s, ts);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(model_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
