/* Check suite for engine/serve: a strict parser of the Prometheus text exposition over the
 * rendered metrics, the health state machine on a fake clock, /explain lookups, --address
 * parsing, and the HTTP routing over a real socket. */
#include <check.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve.h"

#define MIN_MS (60 * 1000LL)

static int64_t fake_now_ms;

static int64_t
fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now_ms;
}

static struct serve *
new_serve(size_t history, const char *backend)
{
    struct serve_options o;
    struct serve *s = NULL;

    memset(&o, 0, sizeof(o));
    o.max_inactivity_ms = 10 * MIN_MS;
    o.max_failing_time_ms = 15 * MIN_MS;
    o.max_startup_time_ms = 20 * MIN_MS;
    o.history = history;
    o.backend_name = backend;
    o.clock = fake_clock;
    fake_now_ms = 1000000;
    ck_assert_int_eq(serve_new(&o, &s), 0);
    return s;
}

/* ---- a strict exposition-format (0.0.4) parser ---- */

#define MAX_FAMILIES 64
#define MAX_SAMPLES 512

struct family {
    char name[128];
    char type[16];
    bool help;
};

struct sample {
    char name[128];
    char labels[8][2][256]; /* name, unescaped value */
    int n_labels;
    double value;
};

struct expo {
    struct family fam[MAX_FAMILIES];
    int n_fam;
    struct sample smp[MAX_SAMPLES];
    int n_smp;
};

static struct family *
expo_family(struct expo *e, const char *name)
{
    for (int i = 0; i < e->n_fam; i++)
        if (strcmp(e->fam[i].name, name) == 0)
            return &e->fam[i];
    return NULL;
}

static bool
metric_name_ok(const char *s, size_t n)
{
    if (n == 0 || !(s[0] == '_' || s[0] == ':' || (s[0] >= 'a' && s[0] <= 'z') ||
                    (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* The family a sample belongs to: histograms own _bucket, _sum and _count. */
static struct family *
sample_family(struct expo *e, const char *name)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    struct family *f = expo_family(e, name);

    if (f != NULL)
        return f;
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(name), m = strlen(suffixes[k]);
        char base[128];

        if (n > m && strcmp(name + n - m, suffixes[k]) == 0 && n - m < sizeof(base)) {
            memcpy(base, name, n - m);
            base[n - m] = '\0';
            f = expo_family(e, base);
            if (f != NULL && strcmp(f->type, "histogram") == 0)
                return f;
        }
    }
    return NULL;
}

static char expo_err[256];

#define EXPECT(cond, ...)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            snprintf(expo_err, sizeof(expo_err), __VA_ARGS__);                                 \
            return expo_err;                                                                   \
        }                                                                                      \
    } while (0)

/* Parse text strictly: NULL, or the first violation naming its line. */
static const char *
expo_parse(const char *text, struct expo *e)
{
    const char *p = text;
    int line_no = 0;

    memset(e, 0, sizeof(*e));
    EXPECT(text[0] != '\0' && text[strlen(text) - 1] == '\n',
           "the exposition must end with a newline");
    while (*p) {
        const char *eol = strchr(p, '\n');
        char line[1024];
        size_t len = (size_t)(eol - p);

        line_no++;
        EXPECT(len < sizeof(line), "line %d too long", line_no);
        memcpy(line, p, len);
        line[len] = '\0';
        p = eol + 1;
        EXPECT(len > 0, "line %d is empty", line_no);
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            char *name = line + 7, *sp = strchr(name, ' ');
            struct family *f;

            EXPECT(sp != NULL, "line %d: no text after the name", line_no);
            *sp = '\0';
            EXPECT(metric_name_ok(name, strlen(name)), "line %d: bad name", line_no);
            f = expo_family(e, name);
            if (f == NULL) {
                EXPECT(e->n_fam < MAX_FAMILIES, "too many families");
                f = &e->fam[e->n_fam++];
                snprintf(f->name, sizeof(f->name), "%s", name);
            }
            if (line[2] == 'H') {
                EXPECT(!f->help, "line %d: second HELP for %s", line_no, name);
                EXPECT(f->type[0] == '\0', "line %d: HELP after TYPE", line_no);
                /* HELP escapes only backslash and newline. */
                for (const char *h = sp + 1; *h; h++)
                    if (*h == '\\') {
                        EXPECT(h[1] == '\\' || h[1] == 'n', "line %d: bad escape in HELP",
                               line_no);
                        h++;
                    }
                f->help = true;
            } else {
                const char *t = sp + 1;

                EXPECT(f->type[0] == '\0', "line %d: second TYPE for %s", line_no, name);
                EXPECT(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 ||
                           strcmp(t, "histogram") == 0 || strcmp(t, "summary") == 0 ||
                           strcmp(t, "untyped") == 0,
                       "line %d: bad type %s", line_no, t);
                EXPECT(f->help, "line %d: TYPE of %s without HELP first", line_no, name);
                snprintf(f->type, sizeof(f->type), "%s", t);
            }
            continue;
        }
        EXPECT(line[0] != '#', "line %d: unexpected comment", line_no);
        {
            struct sample *s;
            struct family *f;
            char *q = line, *end;
            size_t n = strcspn(q, "{ ");

            EXPECT(e->n_smp < MAX_SAMPLES, "too many samples");
            s = &e->smp[e->n_smp++];
            EXPECT(metric_name_ok(q, n) && n < sizeof(s->name), "line %d: bad name", line_no);
            memcpy(s->name, q, n);
            s->name[n] = '\0';
            q += n;
            if (*q == '{') {
                q++;
                while (*q != '}') {
                    size_t ln = strcspn(q, "=");
                    char *v;
                    size_t vn = 0;

                    EXPECT(s->n_labels < 8, "line %d: too many labels", line_no);
                    EXPECT(metric_name_ok(q, ln) && q[ln] == '=' && q[ln + 1] == '"',
                           "line %d: bad label", line_no);
                    memcpy(s->labels[s->n_labels][0], q, ln);
                    s->labels[s->n_labels][0][ln] = '\0';
                    q += ln + 2;
                    v = s->labels[s->n_labels][1];
                    while (*q != '"') {
                        EXPECT(*q != '\0' && *q != '\n', "line %d: open label value", line_no);
                        if (*q == '\\') {
                            EXPECT(q[1] == '\\' || q[1] == '"' || q[1] == 'n',
                                   "line %d: bad escape in a label value", line_no);
                            v[vn++] = q[1] == 'n' ? '\n' : q[1];
                            q += 2;
                        } else {
                            v[vn++] = *q++;
                        }
                        EXPECT(vn < 255, "line %d: label value too long", line_no);
                    }
                    v[vn] = '\0';
                    q++;
                    s->n_labels++;
                    if (*q == ',')
                        q++;
                    else
                        EXPECT(*q == '}', "line %d: labels not closed", line_no);
                }
                q++;
            }
            EXPECT(*q == ' ', "line %d: no space before the value", line_no);
            q++;
            if (strcmp(q, "+Inf") == 0)
                s->value = INFINITY;
            else {
                s->value = strtod(q, &end);
                EXPECT(end != q && *end == '\0', "line %d: bad value \"%s\"", line_no, q);
            }
            f = sample_family(e, s->name);
            EXPECT(f != NULL && f->type[0] != '\0',
                   "line %d: sample %s without HELP and TYPE before it", line_no, s->name);
            EXPECT(strcmp(f->type, "counter") != 0 || s->value >= 0,
                   "line %d: negative counter", line_no);
        }
    }
    return NULL;
}

static const char *
label(const struct sample *s, const char *name)
{
    for (int i = 0; i < s->n_labels; i++)
        if (strcmp(s->labels[i][0], name) == 0)
            return s->labels[i][1];
    return NULL;
}

/* The value of the sample name{lname=lvalue} (lname NULL: the first sample of name). */
static double
value_of(const struct expo *e, const char *name, const char *lname, const char *lvalue)
{
    for (int i = 0; i < e->n_smp; i++) {
        const struct sample *s = &e->smp[i];

        if (strcmp(s->name, name) != 0)
            continue;
        if (lname == NULL || (label(s, lname) && strcmp(label(s, lname), lvalue) == 0))
            return s->value;
    }
    ck_abort_msg("no sample %s{%s=%s}", name, lname ? lname : "", lvalue ? lvalue : "");
    return NAN;
}

/* Histogram rules per function: le increasing, counts non-decreasing, +Inf == _count. */
static void
check_histogram(const struct expo *e, const char *name, const char *fn, size_t want_finite)
{
    char bucket[160], count[160];
    double last_le = -INFINITY, last_n = -1, inf_n = -1;
    size_t n_finite = 0;

    snprintf(bucket, sizeof(bucket), "%s_bucket", name);
    snprintf(count, sizeof(count), "%s_count", name);
    for (int i = 0; i < e->n_smp; i++) {
        const struct sample *s = &e->smp[i];
        const char *le = label(s, "le");
        double v;

        if (strcmp(s->name, bucket) != 0 || strcmp(label(s, "function"), fn) != 0)
            continue;
        ck_assert_ptr_nonnull(le);
        ck_assert_msg(inf_n < 0, "%s{%s}: a bucket after +Inf", name, fn);
        v = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, NULL);
        ck_assert_msg(v > last_le, "%s{%s}: le %s not above the previous", name, fn, le);
        ck_assert_msg(s->value >= last_n, "%s{%s}: bucket le=%s below the previous", name, fn,
                      le);
        last_le = v;
        last_n = s->value;
        if (isinf(v))
            inf_n = s->value;
        else
            n_finite++;
    }
    ck_assert_msg(inf_n >= 0, "%s{%s}: no +Inf bucket", name, fn);
    ck_assert_uint_eq(n_finite, want_finite);
    ck_assert_double_eq(inf_n, value_of(e, count, "function", fn));
}

START_TEST(metrics_exposition)
{
    struct serve *s = new_serve(5, "we\"ird\\back\nend");
    struct serve_gauges g;
    struct expo *e = calloc(1, sizeof(*e));
    char *text;

    ck_assert_ptr_nonnull(e);
    memset(&g, 0, sizeof(g));
    g.nodes_ready = 3;
    g.nodes_unready = 1;
    g.node_groups = 2;
    g.max_nodes = 9;
    g.unschedulable_pods = 4;
    g.safe_to_autoscale = true;
    g.informer_objects[SERVE_RES_PODS] = 42;
    g.cpu_cores = 6.5;
    g.memory_bytes = 12884901888.0;
    g.evicted_ok = 5;
    g.evicted_failed = 2;
    serve_loop_begin(s, SERVE_TRIGGER_POD);
    serve_count_call(s, SERVE_CALL_REFRESH);
    serve_count_call(s, SERVE_CALL_RESIZE);
    serve_count_call(s, SERVE_CALL_RESIZE);
    serve_count_scale_up(s, 3, false);
    serve_count_scale_up(s, 0, true);
    serve_note_removal(s, "n-empty", true);
    serve_note_removal(s, "n-busy", false);
    serve_note_removal(s, "n-pretend", false);
    serve_note_removal(s, "n-failed", false);
    serve_count_scale_down(s, "n-empty", true, false);
    serve_count_scale_down(s, "n-busy", true, false);
    serve_count_scale_down(s, "n-pretend", true, true);
    serve_count_scale_down(s, "n-failed", false, false);
    serve_observe(s, SERVE_FN_MAIN, 0.01); /* on a bound: le is inclusive */
    serve_observe(s, SERVE_FN_MAIN, 0.5);
    serve_observe(s, SERVE_FN_MAIN, 5000); /* past the last bound: only +Inf */
    serve_set_gauges(s, &g);
    serve_loop_end(s, false, SERVE_ERR_CLOUD, NULL);
    text = serve_render_metrics(s);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(expo_parse(text, e) == NULL, "%s", expo_err);
    ck_assert_double_eq(value_of(e, "cluster_autoscaler_nodes_count", "state", "ready"), 3);
    ck_assert_double_eq(value_of(e, "cluster_autoscaler_nodes_count", "state", "unready"), 1);
    ck_assert_double_eq(value_of(e, "cluster_autoscaler_cluster_safe_to_autoscale", NULL, NULL),
                        1);
    ck_assert_double_eq(value_of(e, "cluster_autoscaler_max_nodes_count", NULL, NULL), 9);
    ck_assert_double_eq(
        value_of(e, "cluster_autoscaler_unschedulable_pods_count", "type", "unschedulable"), 4);
    ck_assert_double_eq(value_of(e, "cluster_autoscaler_scaled_up_nodes_total", NULL, NULL), 3);
    ck_assert_double_eq(value_of(e, "cluster_autoscaler_failed_scale_ups_total", NULL, NULL),
                        1);
    ck_assert_double_eq(
        value_of(e, "cluster_autoscaler_scaled_down_nodes_total", "reason", "empty"), 1);
    ck_assert_double_eq(
        value_of(e, "cluster_autoscaler_scaled_down_nodes_total", "reason", "underutilized"),
        1);
    ck_assert_double_eq(value_of(e, "nodescaler_failed_scale_downs_total", NULL, NULL), 1);
    ck_assert_double_eq(
        value_of(e, "cluster_autoscaler_evicted_pods_total", "eviction_result", "succeeded"),
        5);
    ck_assert_double_eq(
        value_of(e, "cluster_autoscaler_evicted_pods_total", "eviction_result", "failed"), 2);
    ck_assert_double_eq(value_of(e, "cluster_autoscaler_cluster_cpu_current_cores", NULL, NULL),
                        6.5);
    ck_assert_double_eq(
        value_of(e, "cluster_autoscaler_cluster_memory_current_bytes", NULL, NULL),
        12884901888.0);
    ck_assert_double_eq(
        value_of(e, "cluster_autoscaler_errors_total", "type", "cloudProviderError"), 1);
    /* Every error class is exported from the start, at 0. */
    ck_assert_double_eq(
        value_of(e, "cluster_autoscaler_errors_total", "type", "configurationError"), 0);
    ck_assert_double_eq(value_of(e, "nodescaler_loops_total", "trigger", "pod"), 1);
    ck_assert_double_eq(value_of(e, "nodescaler_loops_total", "trigger", "scan"), 0);
    ck_assert_double_eq(value_of(e, "nodescaler_informer_objects", "resource", "pods"), 42);
    ck_assert_double_eq(value_of(e, "nodescaler_backend_calls_total", "call", "resize"), 2);
    /* The label value came back through the escapes unchanged. */
    for (int i = 0; i < e->n_smp; i++)
        if (strcmp(e->smp[i].name, "nodescaler_backend_calls_total") == 0)
            ck_assert_str_eq(label(&e->smp[i], "backend"), "we\"ird\\back\nend");
    ck_assert_ptr_nonnull(strstr(text, "backend=\"we\\\"ird\\\\back\\nend\""));
    ck_assert_ptr_nonnull(strstr(text, "cluster_autoscaler_last_activity{activity=\"main\"} "));
    /* Go's ExponentialBuckets(0.01, 1.5, 30) multiplies step by step: its last bound prints as
     * 1278.340394885894 (not the 1278.3403948858938 of 0.01 * 1.5^29). */
    ck_assert_ptr_nonnull(strstr(text, "cluster_autoscaler_function_duration_seconds_bucket{"
                                       "function=\"main\",le=\"0.01\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "cluster_autoscaler_function_duration_seconds_bucket{"
                                       "function=\"main\",le=\"1278.340394885894\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "cluster_autoscaler_function_duration_seconds_bucket{"
                                       "function=\"main\",le=\"+Inf\"} 3\n"));
    ck_assert_double_eq_tol(
        value_of(e, "cluster_autoscaler_function_duration_seconds_sum", "function", "main"),
        5000.51, 1e-9);
    check_histogram(e, "cluster_autoscaler_function_duration_seconds", "main", 30);
    check_histogram(e, "cluster_autoscaler_function_duration_seconds", "scaleUp", 30);
    check_histogram(e, "cluster_autoscaler_function_duration_seconds", "findUnneeded", 30);
    free(text);
    free(e);
    serve_free(s);
}
END_TEST

/* Before any loop read the cluster, no gauge pretends it is empty. */
START_TEST(metrics_no_gauges_before_a_loop)
{
    struct serve *s = new_serve(5, "static");
    struct expo *e = calloc(1, sizeof(*e));
    char *text = serve_render_metrics(s);

    ck_assert_ptr_nonnull(text);
    ck_assert_msg(expo_parse(text, e) == NULL, "%s", expo_err);
    ck_assert_ptr_null(strstr(text, "cluster_autoscaler_nodes_count"));
    ck_assert_ptr_nonnull(
        strstr(text, "cluster_autoscaler_errors_total{type=\"internalError\"} 0"));
    free(text);
    free(e);
    serve_free(s);
}
END_TEST

/* The parser itself rejects what it must, so that its silence means something. */
START_TEST(parser_rejects)
{
    static const char *const bad[] = {
        "# HELP a x\na 1\n",                                  /* no TYPE */
        "a 1\n",                                              /* neither */
        "# TYPE a gauge\na 1\n",                              /* TYPE without HELP */
        "# HELP a x\n# TYPE a gauge\na{l=\"\\q\"} 1\n",       /* bad escape */
        "# HELP a x\n# TYPE a gauge\na{l=\"v} 1\n",           /* open value */
        "# HELP a x\n# TYPE a gauge\na one\n",                /* bad value */
        "# HELP a x\n# TYPE a gauge\na 1",                    /* no final newline */
        "# HELP a x\n# TYPE a counter\na -1\n",               /* negative counter */
        "# HELP a x\n# TYPE a gauge\n# TYPE a gauge\na 1\n",  /* two TYPEs */
        "# HELP a x\n# TYPE a gauge\na_bucket{le=\"1\"} 1\n", /* not a histogram */
    };
    struct expo *e = calloc(1, sizeof(*e));

    ck_assert_ptr_null(expo_parse("# HELP a x\n# TYPE a gauge\na{l=\"\\\"\\n\"} 1\n", e));
    ck_assert_str_eq(e->smp[0].labels[0][1], "\"\n");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(expo_parse(bad[i], e) != NULL, "accepted: %s", bad[i]);
    free(e);
}
END_TEST

/* ---- health ---- */

static int
health(struct serve *s, char *why, size_t len)
{
    return serve_health(s, why, len);
}

START_TEST(health_state_machine)
{
    struct serve *s = new_serve(5, "static");
    char why[512];

    /* Starting: the start-up allowance (20m) applies, not the inactivity one (10m). */
    ck_assert_int_eq(health(s, why, sizeof(why)), 200);
    fake_now_ms += 19 * MIN_MS;
    ck_assert_int_eq(health(s, why, sizeof(why)), 200);
    fake_now_ms += 2 * MIN_MS;
    ck_assert_int_eq(health(s, why, sizeof(why)), 500);
    ck_assert_ptr_nonnull(strstr(why, "--max-startup-time"));
    /* A successful loop makes it healthy. */
    serve_loop_begin(s, SERVE_TRIGGER_SCAN);
    serve_loop_end(s, true, SERVE_ERR_INTERNAL, NULL);
    ck_assert_int_eq(health(s, why, sizeof(why)), 200);
    ck_assert_str_eq(why, "OK");
    /* A loop that never starts again: stuck. */
    fake_now_ms += 10 * MIN_MS + 1000;
    ck_assert_int_eq(health(s, why, sizeof(why)), 500);
    ck_assert_ptr_nonnull(strstr(why, "--max-inactivity"));
    ck_assert_ptr_null(strchr(why, '\n'));
    /* Loops run again but fail: healthy until 15m after the last success. */
    for (int i = 0; i < 10; i++) {
        serve_loop_begin(s, SERVE_TRIGGER_RETRY);
        serve_loop_end(s, false, SERVE_ERR_CLOUD, NULL);
        ck_assert_int_eq(health(s, why, sizeof(why)), i < 5 ? 200 : 500);
        if (i >= 5)
            ck_assert_ptr_nonnull(strstr(why, "--max-failing-time"));
        fake_now_ms += MIN_MS;
    }
    /* A follower is healthy; becoming leader restarts the start-up allowance. */
    serve_set_leading(s, false);
    ck_assert_int_eq(health(s, why, sizeof(why)), 200);
    ck_assert_ptr_nonnull(strstr(why, "standby"));
    serve_set_leading(s, true);
    ck_assert_int_eq(health(s, why, sizeof(why)), 200);
    fake_now_ms += 20 * MIN_MS + 1;
    ck_assert_int_eq(health(s, why, sizeof(why)), 500);
    serve_free(s);
}
END_TEST

/* --max-startup-time shorter than the others is raised to the longest, as in Go. */
START_TEST(health_startup_raised)
{
    struct serve_options o;
    struct serve *s = NULL;
    char why[256];

    memset(&o, 0, sizeof(o));
    o.max_inactivity_ms = 10 * MIN_MS;
    o.max_failing_time_ms = 15 * MIN_MS;
    o.max_startup_time_ms = 1 * MIN_MS;
    o.history = 1;
    o.clock = fake_clock;
    fake_now_ms = 0;
    ck_assert_int_eq(serve_new(&o, &s), 0);
    fake_now_ms = 14 * MIN_MS;
    ck_assert_int_eq(serve_health(s, why, sizeof(why)), 200);
    fake_now_ms = 15 * MIN_MS + 1;
    ck_assert_int_eq(serve_health(s, why, sizeof(why)), 500);
    serve_free(s);
}
END_TEST

/* ---- explain ---- */

static json_t *
decision_fixture(const char *pod)
{
    return json_pack("{s:[{s:s, s:i, s:i, s:[s]}], s:[{s:s, s:s}], s:[{s:s, s:{s:s}}],"
                     " s:[{s:s, s:s}], s:[{s:s, s:s, s:s}], s:{s:i}}",
                     "scale_up", "group", "g1", "from", 0, "to", 1, "pods", pod,
                     "fits_existing", "pod", "default/fits", "node", "n1", "no_scale_up", "pod",
                     "default/huge", "reasons", "g1", "Insufficient cpu", "scale_down", "node",
                     "n-idle", "group", "g1", "unremovable", "node", "n1", "reason",
                     "NotUnderutilized: cpu 90%", "unneeded_since", "2026-01-01T00:00:00Z",
                     "summary", "pending", 3);
}

static json_t *
body_json(char *text)
{
    json_t *o;

    ck_assert_ptr_nonnull(text);
    o = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(o);
    free(text);
    return o;
}

START_TEST(explain_lookups)
{
    struct serve *s = new_serve(2, "static");
    json_t *o;
    int st = 0;

    for (int i = 0; i < 3; i++) {
        char pod[64];

        snprintf(pod, sizeof(pod), "default/job-%d", i);
        serve_loop_begin(s, SERVE_TRIGGER_SCAN);
        serve_loop_end(s, true, SERVE_ERR_INTERNAL, decision_fixture(pod));
    }
    /* A loop that planned nothing keeps its note and, failed, its error class. */
    serve_loop_begin(s, SERVE_TRIGGER_SCAN);
    serve_loop_note(s, "cluster unhealthy, no scaling in this loop: 5 of 6 unready");
    serve_loop_end(s, false, SERVE_ERR_CLOUD, NULL);
    o = body_json(serve_explain(s, NULL, NULL, &st));
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(o, "loops"), 0), "error_type")),
                     "cloudProviderError");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
                                     json_array_get(json_object_get(o, "loops"), 0), "note")),
                                 "unhealthy"));
    json_decref(o);
    /* The note does not stick to the next loop. */
    serve_loop_begin(s, SERVE_TRIGGER_SCAN);
    serve_loop_end(s, true, SERVE_ERR_INTERNAL, decision_fixture("default/job-2"));
    /* The history keeps the last 2 loops, newest first. */
    o = body_json(serve_explain(s, NULL, NULL, &st));
    ck_assert_int_eq(st, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "loops")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(json_object_get(o, "loops"), 0), "loop")),
                     5);
    ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(o, "loops"), 0), "note"));
    ck_assert_ptr_nonnull(
        json_object_get(json_array_get(json_object_get(o, "loops"), 1), "note"));
    json_decref(o);
    /* A pod that triggered a scale-up in the newest loop. */
    o = body_json(serve_explain(s, "default/job-2", NULL, &st));
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(o, "loops"), 0), "verdict")),
                     "triggered scale-up");
    json_decref(o);
    /* A pod no group takes: the reasons per group (the loop that planned nothing is not
     * listed). */
    o = body_json(serve_explain(s, "default/huge", NULL, &st));
    ck_assert_int_eq(st, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "loops")), 1);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(o, "loops"), 0), "reasons"), "g1")),
        "Insufficient cpu");
    json_decref(o);
    /* job-0 was in the loop that fell out of the history: unknown now. */
    o = body_json(serve_explain(s, "default/job-0", NULL, &st));
    ck_assert_int_eq(st, 404);
    ck_assert_ptr_nonnull(json_object_get(o, "error"));
    json_decref(o);
    o = body_json(serve_explain(s, NULL, "n1", &st));
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(o, "loops"), 0), "reason")),
                     "NotUnderutilized: cpu 90%");
    json_decref(o);
    o = body_json(serve_explain(s, NULL, "n-idle", &st));
    ck_assert_int_eq(st, 200);
    json_decref(o);
    o = body_json(serve_explain(s, NULL, "n-unknown", &st));
    ck_assert_int_eq(st, 404);
    json_decref(o);
    /* Malformed: no namespace, upper case, both at once. */
    o = body_json(serve_explain(s, "nonamespace", NULL, &st));
    ck_assert_int_eq(st, 400);
    json_decref(o);
    o = body_json(serve_explain(s, "default/Bad_Name", NULL, &st));
    ck_assert_int_eq(st, 400);
    json_decref(o);
    o = body_json(serve_explain(s, "default/x", "n1", &st));
    ck_assert_int_eq(st, 400);
    json_decref(o);
    serve_free(s);
}
END_TEST

/* ---- --address ---- */

START_TEST(address_forms)
{
    static const struct {
        const char *text;
        int ok;
        const char *shown; /* with port 80 */
    } cases[] = {
        {":8085", 1, ":80"},
        {"127.0.0.1:0", 1, "127.0.0.1:80"},
        {"0.0.0.0:65535", 1, "0.0.0.0:80"},
        {"[::1]:8085", 1, "[::1]:80"},
        {"[::]:1", 1, "[::]:80"},
        {"", 0, NULL},
        {"8085", 0, NULL},
        {":", 0, NULL},
        {":65536", 0, NULL},
        {":-1", 0, NULL},
        {":80x", 0, NULL},
        {":000000080", 0, NULL},
        {"localhost:80", 0, NULL},
        {"::1:80", 0, NULL},
        {"[::1]", 0, NULL},
        {"[::1]80", 0, NULL},
        {"[]:80", 0, NULL},
        {"[127.0.0.1]:80", 0, NULL},
        {"1.2.3:80", 0, NULL},
        {"300.1.1.1:80", 0, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct serve_addr a;
        char err[256] = "", shown[96];
        int rc = serve_addr_parse(cases[i].text, &a, err, sizeof(err));

        ck_assert_msg((rc == 0) == cases[i].ok, "\"%s\": rc %d (%s)", cases[i].text, rc, err);
        if (rc == 0) {
            serve_addr_text(&a, 80, shown, sizeof(shown));
            ck_assert_str_eq(shown, cases[i].shown);
        } else {
            ck_assert_msg(err[0] != '\0', "\"%s\": no reason given", cases[i].text);
        }
    }
}
END_TEST

/* ---- HTTP routing over a real socket ---- */

struct got {
    long code;
    char body[65536];
    size_t len;
    char allow[128];
};

static size_t
got_body(char *p, size_t size, size_t n, void *ud)
{
    struct got *g = ud;
    size_t len = size * n;

    if (g->len + len < sizeof(g->body)) {
        memcpy(g->body + g->len, p, len);
        g->len += len;
        g->body[g->len] = '\0';
    }
    return len;
}

static size_t
got_header(char *p, size_t size, size_t n, void *ud)
{
    struct got *g = ud;
    size_t len = size * n;

    if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0)
        snprintf(g->allow, sizeof(g->allow), "%.*s", (int)(len - 9), p + 7);
    return len;
}

static void
fetch(unsigned port, const char *method, const char *path, struct got *g)
{
    CURL *c = curl_easy_init();
    char url[256];

    memset(g, 0, sizeof(*g));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, got_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, got_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->code);
    curl_easy_cleanup(c);
}

START_TEST(http_routes)
{
    struct serve *s = new_serve(3, "static");
    struct got *g = calloc(1, sizeof(*g));
    char err[256];
    unsigned port;

    ck_assert_int_eq(serve_listen(s, "127.0.0.1:0", err, sizeof(err)), 0);
    port = serve_port(s);
    ck_assert_uint_ne(port, 0);
    serve_loop_begin(s, SERVE_TRIGGER_SCAN);
    serve_loop_end(s, true, SERVE_ERR_INTERNAL, decision_fixture("default/p"));
    fetch(port, "GET", "/metrics", g);
    ck_assert_int_eq(g->code, 200);
    ck_assert_ptr_nonnull(strstr(g->body, "# TYPE cluster_autoscaler_errors_total counter"));
    fetch(port, "HEAD", "/metrics", g);
    ck_assert_int_eq(g->code, 200);
    ck_assert_uint_eq(g->len, 0);
    fetch(port, "GET", "/health-check", g);
    ck_assert_int_eq(g->code, 200);
    ck_assert_str_eq(g->body, "OK\n");
    fetch(port, "POST", "/metrics", g);
    ck_assert_int_eq(g->code, 405);
    ck_assert_str_eq(g->allow, "GET, HEAD");
    fetch(port, "DELETE", "/explain", g);
    ck_assert_int_eq(g->code, 405);
    fetch(port, "GET", "/nope", g);
    ck_assert_int_eq(g->code, 404);
    fetch(port, "GET", "/explain?pod=default%2Fp", g);
    ck_assert_int_eq(g->code, 200);
    ck_assert_ptr_nonnull(strstr(g->body, "triggered scale-up"));
    fetch(port, "GET", "/explain?pod=default/missing", g);
    ck_assert_int_eq(g->code, 404);
    ck_assert_ptr_nonnull(strstr(g->body, "\"error\""));
    fetch(port, "GET", "/explain?bogus=1", g);
    ck_assert_int_eq(g->code, 400);
    fetch(port, "GET", "/explain?pod=a/b&pod=a/c", g);
    ck_assert_int_eq(g->code, 400);
    fetch(port, "GET", "/explain?pod=", g);
    ck_assert_int_eq(g->code, 400);
    free(g);
    serve_free(s);
}
END_TEST

/* A port in use: a clear error naming the address, no crash. */
START_TEST(http_bind_failure)
{
    struct serve *a = new_serve(1, "static"), *b = new_serve(1, "static");
    char err[256], addr[64];

    ck_assert_int_eq(serve_listen(a, "127.0.0.1:0", err, sizeof(err)), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", serve_port(a));
    ck_assert_int_lt(serve_listen(b, addr, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, addr));
    serve_free(b);
    serve_free(a);
}
END_TEST

static Suite *
serve_suite(void)
{
    Suite *s = suite_create("serve");
    TCase *tc = tcase_create("serve");

    tcase_add_test(tc, metrics_exposition);
    tcase_add_test(tc, metrics_no_gauges_before_a_loop);
    tcase_add_test(tc, parser_rejects);
    tcase_add_test(tc, health_state_machine);
    tcase_add_test(tc, health_startup_raised);
    tcase_add_test(tc, explain_lookups);
    tcase_add_test(tc, address_forms);
    tcase_add_test(tc, http_routes);
    tcase_add_test(tc, http_bind_failure);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr;
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    sr = srunner_create(serve_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
