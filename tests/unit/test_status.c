/* Check suite for engine/loop/status: the YAML byte for byte against a fixture, transition
 * times, no write for unchanged content, create when missing and one retry after a 409. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nodescaler/backend.h>

#include "loop/status.h"

#define T0 (1700000000000LL) /* 2023-11-14T22:13:20Z */
#define MIN_MS (60 * 1000LL)

static char *
slurp(const char *name)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/tests/data/status/%s", top ? top : "..", name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static struct status_group groups[2];

static void
input(struct status_input *in)
{
    memset(in, 0, sizeof(*in));
    memset(groups, 0, sizeof(groups));
    groups[0].name = "general";
    groups[0].healthy = true;
    groups[0].nodes.total = groups[0].nodes.ready = 2;
    groups[0].target = groups[0].min_size = groups[0].max_size = 2;
    groups[0].scale_down_candidates = 1;
    groups[1].name = "66666666-7777-8888-9999-000000000002";
    groups[1].healthy = true;
    groups[1].nodes.unregistered = 1;
    groups[1].target = 1;
    groups[1].max_size = 4;
    groups[1].scale_up = STATUS_SU_BACKOFF;
    groups[1].backoff_code = "out-of-resources";
    groups[1].backoff_message = "quota \"gpu\" exceeded:\n\x01 \xff \xc3\xa9";
    in->healthy = true;
    in->nodes.total = in->nodes.ready = 2;
    in->nodes.unregistered = 1;
    in->scale_up = STATUS_SU_IN_PROGRESS;
    in->scale_down_candidates = 1;
    in->groups = groups;
    in->n_groups = 2;
}

START_TEST(the_text_matches_the_fixture)
{
    struct status *st;
    struct status_input in;
    char *text, *key, *want;

    ck_assert_int_eq(status_new(&st), 0);
    input(&in);
    /* The first render fixes every transition at T0; later ones keep it. */
    ck_assert_int_eq(status_render(st, &in, T0, &text, &key), 0);
    free(text);
    free(key);
    in.nodes.being_deleted = 1;
    ck_assert_int_eq(status_render(st, &in, T0 + 5 * MIN_MS + 250, &text, &key), 0);
    want = slurp("status.yaml");
    ck_assert_str_eq(text, want);
    free(want);
    want = slurp("status.key");
    ck_assert_str_eq(key, want);
    free(want);
    free(text);
    free(key);
    status_free(st);
}
END_TEST

START_TEST(a_change_moves_only_its_transition)
{
    struct status *st;
    struct status_input in;
    char *text;

    ck_assert_int_eq(status_new(&st), 0);
    input(&in);
    ck_assert_int_eq(status_render(st, &in, T0, &text, NULL), 0);
    free(text);
    in.scale_up = STATUS_SU_NO_ACTIVITY;
    ck_assert_int_eq(status_render(st, &in, T0 + MIN_MS, &text, NULL), 0);
    /* clusterWide.scaleUp moved; health did not. */
    ck_assert_ptr_nonnull(strstr(text, "  scaleUp:\n    status: NoActivity\n    lastProbeTime: "
                                       "\"2023-11-14T22:14:20Z\"\n    lastTransitionTime: "
                                       "\"2023-11-14T22:14:20Z\"\n"));
    ck_assert_ptr_nonnull(strstr(text,
                                 "    lastProbeTime: \"2023-11-14T22:14:20Z\"\n    "
                                 "lastTransitionTime: \"2023-11-14T22:13:20Z\"\n  scaleUp:"));
    free(text);
    status_free(st);
}
END_TEST

/* An in-memory ConfigMap store with a scripted number of conflicts. */
struct store {
    json_t *cm;      /* NULL: none */
    int conflicts;   /* the next writes answered 409 */
    int create_race; /* the next create finds one made meanwhile */
    int gets, posts, puts;
    int fail_get; /* answer 500 */
};

static int
st_get(void *ud, json_t **cm, long *http, char *err, size_t err_len)
{
    struct store *s = ud;

    s->gets++;
    *cm = NULL;
    if (s->fail_get) {
        *http = 500;
        snprintf(err, err_len, "GET: 500 InternalError");
        return NSC_ERR_TRANSIENT;
    }
    if (s->cm == NULL) {
        *http = 404;
        snprintf(err, err_len, "GET: 404 NotFound");
        return NSC_ERR_NOT_FOUND;
    }
    *http = 200;
    *cm = json_deep_copy(s->cm);
    return 0;
}

static int
st_send(void *ud, const char *method, const json_t *cm, long *http, char *err, size_t err_len)
{
    struct store *s = ud;

    if (strcmp(method, "POST") == 0) {
        s->posts++;
        if (s->create_race) {
            s->create_race = 0;
            s->cm = json_pack("{s:{s:s, s:s}, s:{s:s}}", "metadata", "name", "x",
                              "resourceVersion", "7", "data", "other", "kept");
            *http = 409;
            snprintf(err, err_len, "POST: 409 AlreadyExists");
            return NSC_ERR_TRANSIENT;
        }
    } else {
        s->puts++;
        ck_assert_ptr_nonnull(s->cm);
    }
    if (s->conflicts > 0) {
        s->conflicts--;
        *http = 409;
        snprintf(err, err_len, "%s: 409 Conflict", method);
        return NSC_ERR_TRANSIENT;
    }
    json_decref(s->cm);
    s->cm = json_deep_copy(cm);
    *http = strcmp(method, "POST") == 0 ? 201 : 200;
    return 0;
}

static const char *
stored_status(const struct store *s)
{
    return json_string_value(json_object_get(json_object_get(s->cm, "data"), "status"));
}

START_TEST(unchanged_content_is_not_rewritten)
{
    struct store s = {0};
    struct status_io io = {"kube-system", "cluster-autoscaler-status", st_get, st_send, &s};
    struct status *st;
    struct status_input in;
    bool written;
    char err[512];

    ck_assert_int_eq(status_new(&st), 0);
    input(&in);
    ck_assert_int_eq(status_update(st, &io, &in, T0, &written, err, sizeof(err)), 0);
    ck_assert(written);
    ck_assert_int_eq(s.posts, 1);
    ck_assert_ptr_nonnull(strstr(stored_status(&s), "autoscalerStatus: Running\n"));
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(s.cm, "metadata"), "annotations"),
                         STATUS_ANN_LAST_UPDATED)),
                     "2023-11-14 22:13:20 +0000 UTC");
    /* Later loops with the same picture write nothing, though the probe times moved. */
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(
            status_update(st, &io, &in, T0 + i * MIN_MS, &written, err, sizeof(err)), 0);
        ck_assert(!written);
    }
    ck_assert_int_eq(s.gets + s.posts + s.puts, 2);
    in.scale_down_candidates = 0;
    ck_assert_int_eq(status_update(st, &io, &in, T0 + 4 * MIN_MS, &written, err, sizeof(err)),
                     0);
    ck_assert(written);
    ck_assert_int_eq(s.puts, 1);
    ck_assert_ptr_nonnull(strstr(stored_status(&s), "    status: NoCandidates\n"));
    json_decref(s.cm);
    status_free(st);
}
END_TEST

START_TEST(a_conflict_is_read_again_and_retried_once)
{
    struct store s = {0};
    struct status_io io = {"kube-system", "cluster-autoscaler-status", st_get, st_send, &s};
    struct status *st;
    struct status_input in;
    bool written;
    char err[512];

    ck_assert_int_eq(status_new(&st), 0);
    input(&in);
    /* Created by someone else between our read and our create: read, then replace,
     * keeping what else the ConfigMap holds. */
    s.create_race = 1;
    ck_assert_int_eq(status_update(st, &io, &in, T0, &written, err, sizeof(err)), 0);
    ck_assert(written);
    ck_assert_int_eq(s.gets, 2);
    ck_assert_int_eq(s.posts, 1);
    ck_assert_int_eq(s.puts, 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s.cm, "data"), "other")),
                     "kept");
    ck_assert_ptr_nonnull(stored_status(&s));

    /* One conflict on replace: retried. */
    in.healthy = false;
    s.conflicts = 1;
    ck_assert_int_eq(status_update(st, &io, &in, T0 + MIN_MS, &written, err, sizeof(err)), 0);
    ck_assert(written);
    ck_assert_int_eq(s.puts, 3);
    ck_assert_ptr_nonnull(strstr(stored_status(&s), "status: Unhealthy"));

    /* Two in a row: given up, with an error naming the ConfigMap; tried again next time. */
    in.healthy = true;
    s.conflicts = 2;
    ck_assert_int_lt(status_update(st, &io, &in, T0 + 2 * MIN_MS, &written, err, sizeof(err)),
                     0);
    ck_assert(!written);
    ck_assert_int_eq(s.puts, 5);
    ck_assert_ptr_nonnull(strstr(err, "kube-system/cluster-autoscaler-status"));
    ck_assert_ptr_nonnull(strstr(err, "409"));
    ck_assert_int_eq(status_update(st, &io, &in, T0 + 3 * MIN_MS, &written, err, sizeof(err)),
                     0);
    ck_assert(written);
    ck_assert_ptr_null(strstr(stored_status(&s), "Unhealthy"));

    /* A failed read is no write at all. */
    in.healthy = false;
    s.fail_get = 1;
    ck_assert_int_lt(status_update(st, &io, &in, T0 + 4 * MIN_MS, &written, err, sizeof(err)),
                     0);
    ck_assert_ptr_nonnull(strstr(err, "500"));
    ck_assert_int_eq(s.puts, 6);
    json_decref(s.cm);
    status_free(st);
}
END_TEST

START_TEST(any_bytes_stay_one_valid_yaml_string)
{
    struct status *st;
    struct status_input in;
    struct status_group g = {0};
    char *text;

    ck_assert_int_eq(status_new(&st), 0);
    memset(&in, 0, sizeof(in));
    in.message = "a: b\n- c \"d\" \\ \x1b[0m \xc3\x28 \xe2\x82\xac";
    g.name = "true";
    in.groups = &g;
    in.n_groups = 1;
    ck_assert_int_eq(status_render(st, &in, T0, &text, NULL), 0);
    ck_assert_ptr_nonnull(strstr(
        text, "message: \"a: b\\n- c \\\"d\\\" \\\\ \\u001b[0m \\ufffd( \xe2\x82\xac\"\n"));
    ck_assert_ptr_nonnull(strstr(text, "- name: \"true\"\n"));
    free(text);
    status_free(st);
}
END_TEST

static Suite *
status_suite(void)
{
    Suite *su = suite_create("status");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, the_text_matches_the_fixture);
    tcase_add_test(tc, a_change_moves_only_its_transition);
    tcase_add_test(tc, unchanged_content_is_not_rewritten);
    tcase_add_test(tc, a_conflict_is_read_again_and_retried_once);
    tcase_add_test(tc, any_bytes_stay_one_valid_yaml_string);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    SRunner *sr = srunner_create(status_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
