/* Check suite for engine/loop/events: the dedup window, the per-object and per-loop
 * budgets, dry run, leadership, bounded fields and the texts drawn from a typed decision. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop/events.h"

#define T0 (1700000000000LL)
#define MIN_MS (60 * 1000LL)

/* A post that keeps what it was given. */
struct sent {
    struct events_event ev[64];
    size_t n;
    int fail; /* non-zero: the next posts fail */
};

static int
fake_post(void *ud, const struct events_event *ev, char *err, size_t err_len)
{
    struct sent *s = ud;

    if (s->fail) {
        snprintf(err, err_len, "500 InternalError");
        return NSC_ERR_TRANSIENT;
    }
    if (s->n < sizeof(s->ev) / sizeof(s->ev[0]))
        s->ev[s->n] = *ev;
    s->n++;
    return 0;
}

static struct events *
new_emitter(struct sent *s, const struct events_options *o)
{
    struct events_options d;
    struct events *e = NULL;

    memset(s, 0, sizeof(*s));
    events_options_default(&d);
    ck_assert_int_eq(events_new(o ? o : &d, fake_post, s, &e), 0);
    return e;
}

static const struct events_ref pod1 = {"Pod", "default", "web-1"};

START_TEST(duplicates_wait_for_the_window)
{
    struct sent s;
    struct events *e = new_emitter(&s, NULL);

    ck_assert_int_eq(events_emit(e, T0, &pod1, "Normal", "NotTriggerScaleUp", "m %d", 1),
                     EVENTS_POSTED);
    events_loop_begin(e);
    ck_assert_int_eq(
        events_emit(e, T0 + 4 * MIN_MS, &pod1, "Normal", "NotTriggerScaleUp", "m %d", 1),
        EVENTS_DUPLICATE);
    /* Another message is another event. */
    ck_assert_int_eq(
        events_emit(e, T0 + 4 * MIN_MS, &pod1, "Normal", "NotTriggerScaleUp", "m %d", 2),
        EVENTS_POSTED);
    ck_assert_int_eq(
        events_emit(e, T0 + 5 * MIN_MS, &pod1, "Normal", "NotTriggerScaleUp", "m %d", 1),
        EVENTS_POSTED);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(events_counts(e)[EVENTS_DUPLICATE], 1);
    events_free(e);
}
END_TEST

START_TEST(record_duplicates_posts_every_one)
{
    struct sent s;
    struct events_options o;
    struct events *e;

    events_options_default(&o);
    o.record_duplicates = true;
    e = new_emitter(&s, &o);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(events_emit(e, T0 + i, &pod1, "Normal", "R", "same"), EVENTS_POSTED);
    ck_assert_uint_eq(s.n, 3);
    events_free(e);
}
END_TEST

START_TEST(one_object_is_rate_limited)
{
    struct sent s;
    struct events_options o;
    struct events *e;
    const struct events_ref pod2 = {"Pod", "default", "web-2"};

    events_options_default(&o);
    o.object_burst = 3;
    o.object_refill_ms = MIN_MS;
    o.max_per_loop = 1000;
    e = new_emitter(&s, &o);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(events_emit(e, T0, &pod1, "Normal", "R", "m%d", i), EVENTS_POSTED);
    ck_assert_int_eq(events_emit(e, T0, &pod1, "Normal", "R", "m3"), EVENTS_RATE_LIMITED);
    /* Another object has its own budget. */
    ck_assert_int_eq(events_emit(e, T0, &pod2, "Normal", "R", "m3"), EVENTS_POSTED);
    /* A refused event was not posted, so it is no duplicate later; a minute buys one. */
    ck_assert_int_eq(events_emit(e, T0 + MIN_MS, &pod1, "Normal", "R", "m3"), EVENTS_POSTED);
    ck_assert_int_eq(events_emit(e, T0 + MIN_MS, &pod1, "Normal", "R", "m4"),
                     EVENTS_RATE_LIMITED);
    ck_assert_uint_eq(s.n, 5);
    events_free(e);
}
END_TEST

START_TEST(at_most_twenty_per_loop)
{
    struct sent s;
    struct events *e = new_emitter(&s, NULL);
    char name[32];

    for (int i = 0; i < 25; i++) {
        struct events_ref r = {"Pod", "default", name};

        snprintf(name, sizeof(name), "p-%d", i);
        ck_assert_int_eq(events_emit(e, T0, &r, "Normal", "R", "m"),
                         i < 20 ? EVENTS_POSTED : EVENTS_LOOP_CAP);
    }
    ck_assert_uint_eq(s.n, 20);
    /* The next loop posts those left out. */
    events_loop_begin(e);
    for (int i = 20; i < 25; i++) {
        struct events_ref r = {"Pod", "default", name};

        snprintf(name, sizeof(name), "p-%d", i);
        ck_assert_int_eq(events_emit(e, T0 + 1000, &r, "Normal", "R", "m"), EVENTS_POSTED);
    }
    ck_assert_uint_eq(s.n, 25);
    events_free(e);
}
END_TEST

/* The window holds for a large cluster too: 5,000 pods that no group helps, seen again
 * in the next loop, are (all but a few probe collisions) not posted again. */
START_TEST(five_thousand_pods_are_remembered)
{
    struct sent s;
    struct events_options o;
    struct events *e;
    char name[32];
    struct events_ref r = {"Pod", "default", name};

    events_options_default(&o);
    o.max_per_loop = 100000;
    e = new_emitter(&s, &o);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 5000; i++) {
            snprintf(name, sizeof(name), "pod-%d", i);
            events_emit(e, T0 + round * 10000, &r, "Normal", "NotTriggerScaleUp", "m");
        }
    ck_assert_uint_ge(events_counts(e)[EVENTS_DUPLICATE], 4950);
    ck_assert_uint_le(s.n, 5050);
    events_free(e);
}
END_TEST

START_TEST(dry_run_and_followers_post_nothing)
{
    struct sent s;
    struct events_options o;
    struct events *e;

    events_options_default(&o);
    o.dry_run = true;
    e = new_emitter(&s, &o);
    ck_assert_int_eq(events_emit(e, T0, &pod1, "Normal", "R", "m"), EVENTS_DRY_RUN);
    ck_assert_int_eq(events_emit(e, T0, &pod1, "Normal", "R", "m"), EVENTS_DUPLICATE);
    ck_assert_uint_eq(s.n, 0);
    events_free(e);

    e = new_emitter(&s, NULL);
    events_set_leader(e, false);
    ck_assert_int_eq(events_emit(e, T0, &pod1, "Normal", "R", "m"), EVENTS_NOT_LEADER);
    events_set_leader(e, true);
    ck_assert_int_eq(events_emit(e, T0, &pod1, "Normal", "R", "m"), EVENTS_POSTED);
    ck_assert_uint_eq(s.n, 1);
    events_free(e);
}
END_TEST

START_TEST(a_failed_post_is_tried_again)
{
    struct sent s;
    struct events *e = new_emitter(&s, NULL);

    s.fail = 1;
    ck_assert_int_eq(events_emit(e, T0, &pod1, "Warning", "R", "m"), EVENTS_FAILED);
    s.fail = 0;
    ck_assert_int_eq(events_emit(e, T0 + 1, &pod1, "Warning", "R", "m"), EVENTS_POSTED);
    ck_assert_uint_eq(s.n, 1);
    events_free(e);
}
END_TEST

static int
valid_utf8_no_controls(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t l = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;

        if (l == 0 || (l == 1 && *p < 0x20))
            return 0;
        for (size_t i = 1; i < l; i++)
            if ((p[i] & 0xc0) != 0x80)
                return 0;
        p += l;
    }
    return 1;
}

START_TEST(fields_are_bounded_and_clean)
{
    struct sent s;
    struct events *e = new_emitter(&s, NULL);
    char big[3000], name[400];
    struct events_ref node = {"Node", NULL, name};
    const struct events_ref odd = {"Pod", "ns", "Web_1\n\x1b[31m"};

    /* A message of 2-byte characters longer than the bound: cut on a boundary. */
    for (size_t i = 0; i + 2 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof(big) - 2] = '\0';
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ck_assert_int_eq(events_emit(e, T0, &node, "Warning", "ScaleDownFailed", "%s\xff\x01", big),
                     EVENTS_POSTED);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_uint_le(strlen(s.ev[0].message), EVENTS_MESSAGE_MAX);
    ck_assert(valid_utf8_no_controls(s.ev[0].message));
    ck_assert_str_eq(s.ev[0].message + strlen(s.ev[0].message) - 3, "...");
    ck_assert_uint_le(strlen(s.ev[0].name), EVENTS_NAME_MAX);
    ck_assert_uint_le(strlen(s.ev[0].object_name), EVENTS_NAME_MAX);
    /* Events about cluster-scoped objects live in default. */
    ck_assert_str_eq(s.ev[0].namespace, "default");
    ck_assert_str_eq(s.ev[0].object_namespace, "");

    ck_assert_int_eq(events_emit(e, T0, &odd, "Normal", "R", "x"), EVENTS_POSTED);
    ck_assert(valid_utf8_no_controls(s.ev[1].object_name));
    ck_assert_str_eq(s.ev[1].namespace, "ns");
    /* The Event's own name is a DNS subdomain whatever the object is called. */
    ck_assert_int_eq(strncmp(s.ev[1].name, "web-1---31m.", 12), 0);
    ck_assert_uint_eq(strspn(s.ev[1].name, "abcdefghijklmnopqrstuvwxyz0123456789.-"),
                      strlen(s.ev[1].name));
    events_free(e);
}
END_TEST

START_TEST(secrets_never_reach_an_event)
{
    struct sent s;
    struct events *e = new_emitter(&s, NULL);

    ck_assert_int_eq(log_redact_add("EXOsecret-value-123"), 0);
    ck_assert_int_eq(events_emit(e, T0, &pod1, "Warning", "R", "key EXOsecret-value-123 bad"),
                     EVENTS_POSTED);
    ck_assert_ptr_null(strstr(s.ev[0].message, "EXOsecret"));
    log_redact_clear();
    events_free(e);
}
END_TEST

/* A decision as the planner and decision_apply leave it. */
static char s_job0[] = "default/job-0", s_job1[] = "default/job-1", s_huge[] = "team/huge";
static char s_pa[] = "pool-a", s_pb[] = "pool-b", s_pc[] = "pool-c",
            s_quota[] = "quota exceeded";
static char s_cpu[] = "Insufficient cpu: requests 64, free 2";
static char s_max[] = "max node group size reached (1)";
static char *pods_a[] = {s_job0, s_job1};
static char *pods_b[] = {s_job1};

static void
fill_decision(struct decision *d, struct decision_scale_up *su,
              struct decision_no_scale_up *nsu, struct decision_reason *rs)
{
    memset(d, 0, sizeof(*d));
    memset(su, 0, 3 * sizeof(*su));
    su[0].group_id = s_pa;
    su[0].from = 1;
    su[0].to = 3;
    su[0].pods = pods_a;
    su[0].n_pods = 2;
    su[0].outcome = DECISION_APPLIED;
    su[1].group_id = s_pb;
    su[1].from = 0;
    su[1].to = 1;
    su[1].pods = pods_b;
    su[1].n_pods = 1;
    su[1].outcome = DECISION_APPLIED;
    su[2].group_id = s_pc;
    su[2].from = 0;
    su[2].to = 2;
    su[2].pods = pods_b;
    su[2].n_pods = 1;
    su[2].outcome = DECISION_FAILED;
    su[2].error = s_quota;
    d->scale_up = su;
    d->n_scale_up = 3;
    d->apply_attempted = true;
    rs[0].group_id = s_pa;
    rs[0].why = s_cpu;
    rs[1].group_id = s_pb;
    rs[1].why = s_max;
    memset(nsu, 0, sizeof(*nsu));
    nsu->pod = s_huge;
    nsu->reasons = rs;
    nsu->n_reasons = 2;
    d->no_scale_up = nsu;
    d->n_no_scale_up = 1;
}

static const struct events_event *
find(const struct sent *s, const char *reason, const char *object)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ev[i].reason, reason) == 0 && strcmp(s->ev[i].object_name, object) == 0)
            return &s->ev[i];
    return NULL;
}

START_TEST(texts_from_a_decision)
{
    struct sent s;
    struct events *e = new_emitter(&s, NULL);
    struct decision d;
    struct decision_scale_up su[3];
    struct decision_no_scale_up nsu;
    struct decision_reason rs[2];
    struct group_rec recs[2] = {{.id = s_pa, .max_size = 5}, {.id = s_pb, .max_size = 1}};
    struct group_set gs = {recs, 2};
    struct events_cluster_ref cl = {"kube-system", "cluster-autoscaler-status"};
    const struct events_event *ev;

    fill_decision(&d, su, &nsu, rs);
    events_from_decision(e, T0, &d, &gs, &cl);
    /* 2 ScaledUpGroup + 1 FailedToScaleUpGroup + 2 TriggeredScaleUp + 1 NotTriggerScaleUp */
    ck_assert_uint_eq(s.n, 6);
    ev = find(&s, "ScaledUpGroup", "cluster-autoscaler-status");
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->kind, "ConfigMap");
    ck_assert_str_eq(ev->namespace, "kube-system");
    ck_assert_str_eq(ev->message,
                     "Scale-up: setting group pool-a size to 3 instead of 1 (max: 5)");
    ev = find(&s, "FailedToScaleUpGroup", "cluster-autoscaler-status");
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->type, "Warning");
    ck_assert_str_eq(ev->message, "Scale-up failed for group pool-c: quota exceeded");
    ev = find(&s, "TriggeredScaleUp", "job-0");
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->message, "pod triggered scale-up: [{pool-a 1->3 (max: 5)}]");
    ev = find(&s, "TriggeredScaleUp", "job-1");
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->message, "pod triggered scale-up: [{pool-a 1->3 (max: 5)} "
                                  "{pool-b 0->1 (max: 1)}]");
    ck_assert_str_eq(ev->object_namespace, "default");
    ev = find(&s, "NotTriggerScaleUp", "huge");
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->namespace, "team");
    ck_assert_str_eq(
        ev->message,
        "pod didn't trigger scale-up: group pool-a: Insufficient cpu: requests 64, "
        "free 2; group pool-b: max node group size reached (1)");
    /* The same decision next loop: nothing new to say. */
    events_loop_begin(e);
    events_from_decision(e, T0 + 10000, &d, &gs, &cl);
    ck_assert_uint_eq(s.n, 6);
    ck_assert_uint_eq(events_counts(e)[EVENTS_DUPLICATE], 6);
    events_free(e);
}
END_TEST

START_TEST(a_planned_scale_up_is_no_event_unless_dry_run)
{
    struct sent s;
    struct events *e = new_emitter(&s, NULL);
    struct decision d;
    struct decision_scale_up su[3];
    struct decision_no_scale_up nsu;
    struct decision_reason rs[2];

    fill_decision(&d, su, &nsu, rs);
    d.n_no_scale_up = 0;
    for (int i = 0; i < 3; i++)
        su[i].outcome = DECISION_SKIPPED;
    events_from_decision(e, T0, &d, NULL, NULL);
    ck_assert_uint_eq(s.n, 0);
    events_free(e);
}
END_TEST

static Suite *
events_suite(void)
{
    Suite *su = suite_create("events");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, duplicates_wait_for_the_window);
    tcase_add_test(tc, record_duplicates_posts_every_one);
    tcase_add_test(tc, one_object_is_rate_limited);
    tcase_add_test(tc, at_most_twenty_per_loop);
    tcase_add_test(tc, five_thousand_pods_are_remembered);
    tcase_add_test(tc, dry_run_and_followers_post_nothing);
    tcase_add_test(tc, a_failed_post_is_tried_again);
    tcase_add_test(tc, fields_are_bounded_and_clean);
    tcase_add_test(tc, secrets_never_reach_an_event);
    tcase_add_test(tc, texts_from_a_decision);
    tcase_add_test(tc, a_planned_scale_up_is_no_event_unless_dry_run);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    SRunner *sr = srunner_create(events_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
