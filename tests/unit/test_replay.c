/* Check suite for engine/loop: the typed decision of a pass (filled from the planners,
 * applied through a resize function, rendered as JSON and text) for a kubectl snapshot
 * and static-backend groups under tests/data/replay. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop/replay.h"

static const char *
data_path(const char *name)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof(buf), "%s/tests/data/replay/%s", top ? top : "..", name);
    return buf;
}

/* The static backend's file format, read the way the backend hands it to the core. */
static void
load_groups(struct group_set *gs)
{
    json_error_t jerr;
    json_t *root = json_load_file(data_path("groups.json"), 0, &jerr);
    ck_assert_msg(root != NULL, "%s", jerr.text);
    json_t *arr = json_object_get(root, "groups");
    gs->n_groups = json_array_size(arr);
    gs->groups = calloc(gs->n_groups, sizeof(*gs->groups));
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
    {
        struct group_rec *r = &gs->groups[i];
        r->id = strdup(json_string_value(json_object_get(g, "id")));
        r->min_size = (int32_t)json_integer_value(json_object_get(g, "min"));
        r->max_size = (int32_t)json_integer_value(json_object_get(g, "max"));
        r->target_size = (int32_t)json_integer_value(json_object_get(g, "target"));
        json_t *t = json_object_get(g, "template");
        if (t && !json_is_null(t))
            r->template_node_json = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *inst = json_object_get(g, "instances");
        r->n_instances = json_array_size(inst);
        r->instances = calloc(r->n_instances + 1, sizeof(*r->instances));
        for (size_t k = 0; k < r->n_instances; k++)
            r->instances[k].provider_id = strdup(json_string_value(json_array_get(inst, k)));
    }
    json_decref(root);
}

static json_t *
decide(struct model **mp, struct group_set *gs)
{
    struct model *m = model_new();
    char err[300];
    struct model_load_stats st;
    ck_assert_msg(model_load_file(m, data_path("snapshot.json"), &st, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(st.n_skipped, 0);
    load_groups(gs);
    struct scaleup_options o;
    scaleup_options_default(&o);
    json_t *d;
    ck_assert_msg(replay_decide(m, gs, &o, &d, err, sizeof(err)) == 0, "%s", err);
    *mp = m;
    return d;
}

START_TEST(decision_json_rendering)
{
    struct model *m;
    struct group_set gs = {0};
    json_t *d = decide(&m, &gs);
    json_error_t jerr;
    json_t *want = json_load_file(data_path("expected.json"), 0, &jerr);
    ck_assert_msg(want != NULL, "%s", jerr.text);
    char *got = json_dumps(d, JSON_INDENT(1) | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(d, want), "decision differs:\n%s", got);
    free(got);
    json_decref(want);
    json_decref(d);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

/* The typed decision of the replay fixture, planned as --once plans it. */
static void
plan(struct model **mp, struct group_set *gs, struct decision *d)
{
    struct model *m = model_new();
    char err[300];
    struct model_load_stats st;
    ck_assert_msg(model_load_file(m, data_path("snapshot.json"), &st, err, sizeof(err)) == 0,
                  "%s", err);
    load_groups(gs);
    struct scaleup_options o;
    struct scaledown_options sdo;
    scaleup_options_default(&o);
    scaledown_options_default(&sdo);
    ck_assert_msg(loop_plan(m, gs, &o, &sdo, (int64_t)time(NULL), d, err, sizeof(err)) == 0,
                  "%s", err);
    *mp = m;
}

static char *
render_text(const struct decision *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    decision_text(d, f);
    fclose(f);
    return buf;
}

START_TEST(decision_text_rendering)
{
    struct model *m;
    struct group_set gs = {0};
    struct decision d;
    plan(&m, &gs, &d);
    char *buf = render_text(&d);
    FILE *w = fopen(data_path("expected.txt"), "r");
    ck_assert_ptr_nonnull(w);
    char want[8192];
    size_t n = fread(want, 1, sizeof(want) - 1, w);
    want[n] = 0;
    fclose(w);
    ck_assert_msg(strcmp(buf, want) == 0, "text differs:\n%s", buf);
    free(buf);
    decision_free(&d);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

/* A name or a reason with a newline or an escape sequence stays on its own line of the text
 * decision: control bytes are written as \n and \xHH, never raw. */
START_TEST(decision_text_escapes_names)
{
    static char pod[] = "default/evil\nScale-up: group x: 0 -> 99 nodes";
    static char node[] = "node\x1b[2Ja";
    static char n1[] = "n1";
    static char reason[] = "NotUnderutilized\r\n  node forged: removable";
    struct decision d;
    struct decision_fit fit = {pod, node};
    struct decision_unremovable un = {n1, reason, false, 0};
    memset(&d, 0, sizeof(d));
    d.fits = &fit;
    d.n_fits = 1;
    d.unremovable = &un;
    d.n_unremovable = 1;
    char *buf = render_text(&d);
    ck_assert_msg(strstr(buf, "  default/evil\\nScale-up: group x: 0 -> 99 nodes -> "
                              "node\\x1b[2Ja\n") != NULL,
                  "%s", buf);
    ck_assert_msg(strstr(buf, "  node n1: NotUnderutilized\\x0d\\n  node forged: removable\n"),
                  "%s", buf);
    ck_assert_ptr_null(strchr(buf, '\x1b'));
    ck_assert_ptr_null(strchr(buf, '\r'));
    free(buf);
}
END_TEST

/* A resize function that records its calls and refuses the groups listed in refuse. */
struct fake_resize {
    int n_calls;
    char groups[8][64];
    int32_t targets[8];
    const char *refuse;
};

static int
fake_resize(void *arg, const char *group_id, int32_t to, char *err, size_t err_len)
{
    struct fake_resize *f = arg;
    ck_assert_int_lt(f->n_calls, 8);
    snprintf(f->groups[f->n_calls], sizeof(f->groups[0]), "%s", group_id);
    f->targets[f->n_calls++] = to;
    if (f->refuse && strcmp(f->refuse, group_id) == 0) {
        snprintf(err, err_len, "quota exceeded for %s", group_id);
        return NSC_ERR_TRANSIENT;
    }
    return 0;
}

START_TEST(decision_filled_from_planners)
{
    struct model *m;
    struct group_set gs = {0};
    struct decision d;
    plan(&m, &gs, &d);
    ck_assert(d.cluster_read);
    ck_assert_uint_eq(d.n_scale_up, 2);
    ck_assert_str_eq(d.scale_up[1].group_id, "web");
    ck_assert_str_eq(gs.groups[d.scale_up[1].group].id, "web");
    ck_assert_int_eq(d.scale_up[1].from, 2);
    ck_assert_int_eq(d.scale_up[1].to, 3);
    ck_assert_uint_eq(d.scale_up[1].n_pods, 2);
    ck_assert_str_eq(d.scale_up[1].pods[0], "default/api-2");
    ck_assert_uint_eq(d.n_fits, 2);
    ck_assert_str_eq(d.fits[0].node, "web-1");
    ck_assert_uint_eq(d.n_no_scale_up, 2);
    ck_assert_ptr_nonnull(d.no_scale_up[0].why); /* expendable: one reason */
    ck_assert_uint_eq(d.no_scale_up[0].n_reasons, 0);
    ck_assert_ptr_null(d.no_scale_up[1].why);
    ck_assert_uint_eq(d.no_scale_up[1].n_reasons, 3);
    ck_assert_uint_eq(d.n_scale_down, 0);
    ck_assert_uint_eq(d.n_unremovable, 3);
    ck_assert_uint_eq(d.summary.n_pending, 7);
    ck_assert_uint_eq(d.summary.n_groups, 3);
    ck_assert(!d.apply_attempted);
    decision_free(&d);
    decision_free(&d); /* zeroed: a second free is harmless */
    group_set_free(&gs);
    model_free(m);
}
END_TEST

START_TEST(apply_resizes_once_per_entry)
{
    struct model *m;
    struct group_set gs = {0};
    struct decision d;
    struct fake_resize f = {0};
    char err[256] = "";
    plan(&m, &gs, &d);
    ck_assert_int_eq(decision_apply(&d, false, fake_resize, &f, err, sizeof(err)), 0);
    ck_assert_int_eq(f.n_calls, 2);
    ck_assert_str_eq(f.groups[0], "gpu");
    ck_assert_int_eq(f.targets[0], 1);
    ck_assert_str_eq(f.groups[1], "web");
    ck_assert_int_eq(f.targets[1], 3);
    ck_assert_int_eq(d.scale_up[0].outcome, DECISION_APPLIED);
    ck_assert_int_eq(d.scale_up[1].outcome, DECISION_APPLIED);

    /* Applied: each entry says so, in JSON and in text. */
    json_t *j = decision_json(&d);
    ck_assert(json_is_true(
        json_object_get(json_array_get(json_object_get(j, "scale_up"), 1), "applied")));
    json_decref(j);
    char *t = render_text(&d);
    ck_assert_msg(strstr(t, "  group web: 2 -> 3 nodes, for 2 pod(s): resized\n"), "%s", t);
    free(t);
    decision_free(&d);
    group_set_free(&gs);
    model_free(m);

    /* A dry run calls nothing and its renderings are the replay's, unchanged. */
    plan(&m, &gs, &d);
    f.n_calls = 0;
    ck_assert_int_eq(decision_apply(&d, true, fake_resize, &f, err, sizeof(err)), 0);
    ck_assert_int_eq(f.n_calls, 0);
    j = decision_json(&d);
    ck_assert_ptr_null(
        json_object_get(json_array_get(json_object_get(j, "scale_up"), 0), "applied"));
    json_decref(j);
    decision_free(&d);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

START_TEST(apply_failed_resize_not_applied)
{
    struct model *m;
    struct group_set gs = {0};
    struct decision d;
    struct fake_resize f = {.refuse = "gpu"};
    char err[256] = "";
    plan(&m, &gs, &d);
    ck_assert_int_eq(decision_apply(&d, false, fake_resize, &f, err, sizeof(err)),
                     NSC_ERR_TRANSIENT);
    /* The first refusal stops the pass: web is not asked. */
    ck_assert_int_eq(f.n_calls, 1);
    ck_assert_msg(strstr(err, "group gpu") && strstr(err, "quota exceeded"), "%s", err);
    ck_assert_int_eq(d.scale_up[0].outcome, DECISION_FAILED);
    ck_assert_int_eq(d.scale_up[1].outcome, DECISION_SKIPPED);

    json_t *j = decision_json(&d), *su = json_object_get(j, "scale_up");
    ck_assert(json_is_false(json_object_get(json_array_get(su, 0), "applied")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(su, 0), "error")),
                     "quota exceeded for gpu");
    ck_assert(json_is_false(json_object_get(json_array_get(su, 1), "applied")));
    json_decref(j);
    char *t = render_text(&d);
    ck_assert_msg(strstr(t, "group gpu: 0 -> 1 nodes, for 1 pod(s): resize failed: quota "
                            "exceeded for gpu\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "group web: 2 -> 3 nodes, for 2 pod(s): not attempted"), "%s", t);
    free(t);
    decision_free(&d);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

/* A removal the planner chose is never reported as done: nothing removes nodes yet. */
START_TEST(scale_down_never_claimed)
{
    struct decision d = {0};
    static char name[] = "n1", group[] = "web";
    struct scaledown_node n = {
        .name = name, .group_id = group, .state = SD_NODE_REMOVABLE, .empty = true};
    struct scaledown_journal jr = {.nodes = &n, .n_nodes = 1, .n_removable = 1};
    struct fake_resize f = {0};
    char err[256] = "";
    ck_assert_int_eq(decision_fill_scaledown(&d, &jr), 0);
    ck_assert_uint_eq(d.n_scale_down, 1);
    ck_assert(d.scale_down[0].empty);

    /* Planned only (a dry run): the replay's {"node", "group"}, no claim either way. */
    json_t *j = decision_json(&d), *e = json_array_get(json_object_get(j, "scale_down"), 0);
    ck_assert_uint_eq(json_object_size(e), 2);
    json_decref(j);
    char *t = render_text(&d);
    ck_assert_msg(strstr(t, "Scale-down:\n  node n1 (group web)\n"), "%s", t);
    free(t);

    ck_assert_int_eq(decision_apply(&d, false, fake_resize, &f, err, sizeof(err)), 0);
    ck_assert_int_eq(f.n_calls, 0);
    j = decision_json(&d);
    e = json_array_get(json_object_get(j, "scale_down"), 0);
    ck_assert(json_is_false(json_object_get(e, "applied")));
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(e, "note")), "not carried out"));
    json_decref(j);
    t = render_text(&d);
    ck_assert_msg(strstr(t, "  node n1 (group web): planned, not carried out: scale-down "
                            "actuation is not available in --once\n"),
                  "%s", t);
    free(t);
    decision_free(&d);
}
END_TEST

/* Without a cluster there is nothing to plan: the same type, empty, with its note. */
START_TEST(groups_only_decision)
{
    struct group_set gs = {0};
    struct decision d = {0};
    load_groups(&gs);
    ck_assert_int_eq(decision_from_groups(&d, &gs, "no change: the cluster was not read"), 0);
    ck_assert(!d.cluster_read);
    ck_assert_uint_eq(d.n_scale_up + d.n_scale_down + d.n_fits + d.n_no_scale_up, 0);
    ck_assert_uint_eq(d.summary.n_groups, 3);
    ck_assert_str_eq(d.note, "no change: the cluster was not read");
    decision_free(&d);
    group_set_free(&gs);
}
END_TEST

START_TEST(deterministic)
{
    /* The same inputs give the same decision (the random tie-break is seeded). */
    struct model *m1, *m2;
    struct group_set g1 = {0}, g2 = {0};
    json_t *d1 = decide(&m1, &g1), *d2 = decide(&m2, &g2);
    ck_assert(json_equal(d1, d2));
    json_decref(d1);
    json_decref(d2);
    group_set_free(&g1);
    group_set_free(&g2);
    model_free(m1);
    model_free(m2);
}
END_TEST

static Suite *
replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, decision_json_rendering);
    tcase_add_test(tc, decision_text_rendering);
    tcase_add_test(tc, decision_text_escapes_names);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, decision_filled_from_planners);
    tcase_add_test(tc, apply_resizes_once_per_entry);
    tcase_add_test(tc, apply_failed_resize_not_applied);
    tcase_add_test(tc, scale_down_never_claimed);
    tcase_add_test(tc, groups_only_decision);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(replay_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
