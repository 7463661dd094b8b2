/* Pods from the scanner's compact text without a JSON tree: the plain case of
 * model.c's parse_pod, read straight from the bytes; anything unusual goes back to it. */
#include <stdlib.h>
#include <string.h>

#include "model/parse_util.h"

/*
 * A reader over the scanner's compact copy of a pod (scan.c: valid JSON, no whitespace).
 * It handles the plain case only: every member of the expected type, no duplicate member,
 * no escape in a string it reads. Anything else makes it give up (FAST_BAIL) before
 * touching the model, and the pod goes the jansson way, which also words the warnings.
 */
#define FAST_BAIL 1

struct fast {
    const char *p, *end;
};

struct span {
    const char *s;
    size_t n;
};

/* A string without escapes at f->p. */
static int
fast_str(struct fast *f, struct span *out)
{
    if (*f->p != '"')
        return FAST_BAIL;
    const char *s = f->p + 1, *q = s;
    while (q < f->end && *q != '"' && *q != '\\')
        q++;
    if (q >= f->end || *q != '"')
        return FAST_BAIL;
    out->s = s;
    out->n = (size_t)(q - s);
    f->p = q + 1;
    return 0;
}

static bool
fast_null(struct fast *f)
{
    if (f->end - f->p >= 4 && memcmp(f->p, "null", 4) == 0) {
        f->p += 4;
        return true;
    }
    return false;
}

/* Skip one value (valid compact JSON). */
static void
fast_skip(struct fast *f)
{
    int depth = 0;
    while (f->p < f->end) {
        char c = *f->p;
        if (c == '"') {
            for (f->p++; f->p < f->end && *f->p != '"'; f->p++)
                if (*f->p == '\\')
                    f->p++;
            f->p++;
        } else if (c == '{' || c == '[') {
            depth++;
            f->p++;
            continue;
        } else if (c == '}' || c == ']') {
            depth--;
            f->p++;
        } else if (c == ',' || c == ':') {
            f->p++;
            continue;
        } else {
            while (f->p < f->end && *f->p != ',' && *f->p != '}' && *f->p != ']')
                f->p++;
        }
        if (depth <= 0)
            return;
    }
}

/* Optional string member: null gives an absent span. */
static int
fast_opt_str(struct fast *f, struct span *out)
{
    out->s = NULL;
    out->n = 0;
    return fast_null(f) ? 0 : fast_str(f, out);
}

/* Object iteration: at '{' call fast_obj_open; then fast_obj_next until it returns 0. */
static int
fast_obj_open(struct fast *f, bool *empty)
{
    if (*f->p != '{')
        return FAST_BAIL;
    f->p++;
    *empty = *f->p == '}';
    if (*empty)
        f->p++;
    return 0;
}

/* Reads "key": and returns 1; at the end of the object returns 0 (past '}'). Call after a
 * member's value was consumed, with first set for the first member. */
static int
fast_obj_key(struct fast *f, bool first, struct span *key)
{
    if (!first) {
        if (*f->p == '}') {
            f->p++;
            return 0;
        }
        f->p++; /* ',' */
    }
    if (fast_str(f, key) != 0)
        return -1;
    f->p++; /* ':' */
    return 1;
}

static bool
span_is(const struct span *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->n == n && memcmp(s->s, lit, n) == 0;
}

/* Bit for a member read once; a second sighting makes the reader give up (duplicates are
 * resolved by jansson's last-wins). */
static int
fast_once(unsigned *seen, unsigned bit)
{
    if (*seen & bit)
        return FAST_BAIL;
    *seen |= bit;
    return 0;
}

static int
fast_label_cmp(const void *a, const void *b)
{
    const struct label *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* Labels, or the kept annotations: up to 64 in the fast way (the model's own size,
 * allocated once), more go back to the tree way. */
static int
fast_labels(struct model *m, struct fast *f, bool annotations, struct labelset **out)
{
    bool empty;
    struct span k, v;
    struct label l[64];
    uint32_t n = 0;
    int more = 0;
    char kbuf[320];
    *out = NULL;
    if (fast_null(f))
        return 0;
    if (fast_obj_open(f, &empty) != 0)
        return FAST_BAIL;
    if (empty)
        return 0;
    for (bool first = true; (more = fast_obj_key(f, first, &k)) == 1; first = false) {
        if (annotations) {
            if (k.n >= sizeof(kbuf))
                return FAST_BAIL;
            memcpy(kbuf, k.s, k.n);
            kbuf[k.n] = 0;
            if (!model_keep_annotation(kbuf)) {
                fast_skip(f);
                continue;
            }
        }
        if (n == 64 || fast_str(f, &v) != 0)
            return FAST_BAIL;
        l[n].key = intern_get(&m->strings, k.s, k.n);
        l[n].val = intern_get(&m->strings, v.s, v.n);
        if (!l[n].key || !l[n].val)
            return NSC_ERR_NOMEM;
        n++;
    }
    if (more < 0)
        return FAST_BAIL;
    if (n == 0)
        return 0;
    qsort(l, n, sizeof(struct label), fast_label_cmp);
    for (uint32_t i = 1; i < n; i++)
        if (l[i].key == l[i - 1].key)
            return FAST_BAIL;
    struct labelset *ls = malloc(sizeof(*ls) + n * sizeof(struct label));
    if (!ls)
        return NSC_ERR_NOMEM;
    ls->n = n;
    memcpy(ls->l, l, n * sizeof(struct label));
    *out = ls;
    return 0;
}

static int
fast_time(const struct span *s, int64_t *out)
{
    char buf[64];
    *out = 0;
    if (!s->s)
        return 0;
    if (s->n >= sizeof(buf))
        return FAST_BAIL;
    memcpy(buf, s->s, s->n);
    buf[s->n] = 0;
    return time_parse(buf, out) < 0 ? FAST_BAIL : 0;
}

/* A non-negative integer token (jansson's integer: no fraction, no exponent). */
static int
fast_uint(struct fast *f, int64_t *out)
{
    const char *q = f->p;
    int64_t v = 0;
    if (q >= f->end || *q < '0' || *q > '9')
        return FAST_BAIL;
    for (; q < f->end && *q >= '0' && *q <= '9'; q++) {
        if (v > (INT64_MAX - 9) / 10)
            return FAST_BAIL;
        v = v * 10 + (*q - '0');
    }
    if (q < f->end && *q != ',' && *q != '}' && *q != ']')
        return FAST_BAIL;
    f->p = q;
    *out = v;
    return 0;
}

static int
fast_owners(struct model *m, struct fast *f, struct model_pod *p)
{
    if (fast_null(f))
        return 0;
    if (*f->p != '[')
        return FAST_BAIL;
    f->p++;
    if (*f->p == ']') {
        f->p++;
        return 0;
    }
    bool found = false;
    for (;;) {
        if (*f->p != '{' || found) {
            /* Not an object (ignored), or after the controller (not read). */
            fast_skip(f);
        } else {
            bool empty, controller = false;
            struct span k, kind = {0}, name = {0}, uid = {0};
            unsigned seen = 0;
            int more = 0;
            fast_obj_open(f, &empty);
            for (bool first = true; !empty && (more = fast_obj_key(f, first, &k)) == 1;
                 first = false) {
                int rc = 0;
                if (span_is(&k, "controller")) {
                    rc = fast_once(&seen, 1);
                    controller = f->end - f->p >= 4 && memcmp(f->p, "true", 4) == 0;
                    fast_skip(f);
                } else if (span_is(&k, "kind")) {
                    rc = fast_once(&seen, 2) ? FAST_BAIL : fast_opt_str(f, &kind);
                } else if (span_is(&k, "name")) {
                    rc = fast_once(&seen, 4) ? FAST_BAIL : fast_opt_str(f, &name);
                } else if (span_is(&k, "uid")) {
                    rc = fast_once(&seen, 8) ? FAST_BAIL : fast_opt_str(f, &uid);
                } else {
                    fast_skip(f);
                }
                if (rc)
                    return rc;
            }
            if (!empty && more < 0)
                return FAST_BAIL;
            if (controller) {
                found = true;
                p->owner_kind = intern_get(&m->strings, kind.s ? kind.s : "", kind.n);
                p->owner_name = intern_get(&m->strings, name.s ? name.s : "", name.n);
                p->owner_uid = intern_get(&m->strings, uid.s ? uid.s : "", uid.n);
                if (!p->owner_kind || !p->owner_name || !p->owner_uid)
                    return NSC_ERR_NOMEM;
            }
        }
        if (*f->p == ']') {
            f->p++;
            return 0;
        }
        f->p++;
    }
}

static int
fast_meta(struct model *m, struct fast *f, struct model_pod *p, struct span *name,
          struct span *ns)
{
    bool empty;
    struct span k, ct = {0}, dt = {0};
    unsigned seen = 0;
    int rc = 0, more = 0;
    if (fast_obj_open(f, &empty) != 0 || empty)
        return FAST_BAIL;
    for (bool first = true; (more = fast_obj_key(f, first, &k)) == 1; first = false) {
        if (span_is(&k, "name"))
            rc = fast_once(&seen, 1) ? FAST_BAIL : fast_str(f, name);
        else if (span_is(&k, "namespace"))
            rc = fast_once(&seen, 2) ? FAST_BAIL : fast_str(f, ns);
        else if (span_is(&k, "labels"))
            rc = fast_once(&seen, 4) ? FAST_BAIL : fast_labels(m, f, false, &p->labels);
        else if (span_is(&k, "annotations"))
            rc = fast_once(&seen, 8) ? FAST_BAIL : fast_labels(m, f, true, &p->annotations);
        else if (span_is(&k, "creationTimestamp"))
            rc = fast_once(&seen, 16) ? FAST_BAIL : fast_opt_str(f, &ct);
        else if (span_is(&k, "deletionTimestamp"))
            rc = fast_once(&seen, 32) ? FAST_BAIL : fast_opt_str(f, &dt);
        else if (span_is(&k, "ownerReferences"))
            rc = fast_once(&seen, 64) ? FAST_BAIL : fast_owners(m, f, p);
        else
            fast_skip(f);
        if (rc)
            return rc;
    }
    if (more < 0 || !name->s || !name->n || !ns->s || !ns->n)
        return FAST_BAIL;
    if ((rc = fast_time(&ct, &p->created_s)) != 0)
        return rc;
    p->terminating = dt.s != NULL;
    return fast_time(&dt, &p->deletion_s);
}

static int
fast_spec(struct model *m, struct fast *f, struct model_pod *p)
{
    bool empty;
    struct span k, nn = {0};
    unsigned seen = 0;
    int rc = 0, more = 0;
    if (fast_obj_open(f, &empty) != 0)
        return FAST_BAIL;
    for (bool first = true; !empty && (more = fast_obj_key(f, first, &k)) == 1; first = false) {
        if (span_is(&k, "nodeName")) {
            rc = fast_once(&seen, 1) ? FAST_BAIL : fast_opt_str(f, &nn);
        } else if (span_is(&k, "terminationGracePeriodSeconds")) {
            rc = fast_once(&seen, 2);
            if (!rc && !fast_null(f))
                rc = fast_uint(f, &p->grace_s);
        } else {
            fast_skip(f);
        }
        if (rc)
            return rc;
    }
    if (!empty && more < 0)
        return FAST_BAIL;
    if (nn.n && !(p->node = intern_get(&m->strings, nn.s, nn.n)))
        return NSC_ERR_NOMEM;
    return 0;
}

static int
fast_conditions(struct fast *f, struct model_pod *p)
{
    if (fast_null(f))
        return 0;
    if (*f->p != '[')
        return FAST_BAIL;
    f->p++;
    if (*f->p == ']') {
        f->p++;
        return 0;
    }
    for (;;) {
        if (*f->p != '{') {
            fast_skip(f); /* not an object: nothing read from it */
        } else {
            bool empty;
            struct span k, type = {0}, st = {0}, reason = {0};
            unsigned seen = 0;
            int rc = 0, more = 0;
            fast_obj_open(f, &empty);
            for (bool first = true; !empty && (more = fast_obj_key(f, first, &k)) == 1;
                 first = false) {
                if (span_is(&k, "type"))
                    rc = fast_once(&seen, 1) ? FAST_BAIL : fast_opt_str(f, &type);
                else if (span_is(&k, "status"))
                    rc = fast_once(&seen, 2) ? FAST_BAIL : fast_opt_str(f, &st);
                else if (span_is(&k, "reason"))
                    rc = fast_once(&seen, 4) ? FAST_BAIL : fast_opt_str(f, &reason);
                else
                    fast_skip(f);
                if (rc)
                    return rc;
            }
            if (!empty && more < 0)
                return FAST_BAIL;
            if (span_is(&type, "PodScheduled") && span_is(&st, "False") &&
                span_is(&reason, "Unschedulable"))
                p->unschedulable = true;
        }
        if (*f->p == ']') {
            f->p++;
            return 0;
        }
        f->p++;
    }
}

static int
fast_status(struct model *m, struct fast *f, struct model_pod *p)
{
    bool empty;
    struct span k, phase = {0}, nom = {0};
    unsigned seen = 0;
    int rc = 0, more = 0;
    if (fast_null(f))
        return 0;
    if (fast_obj_open(f, &empty) != 0)
        return FAST_BAIL;
    for (bool first = true; !empty && (more = fast_obj_key(f, first, &k)) == 1; first = false) {
        if (span_is(&k, "phase"))
            rc = fast_once(&seen, 1) ? FAST_BAIL : fast_opt_str(f, &phase);
        else if (span_is(&k, "nominatedNodeName"))
            rc = fast_once(&seen, 2) ? FAST_BAIL : fast_opt_str(f, &nom);
        else if (span_is(&k, "conditions"))
            rc = fast_once(&seen, 4) ? FAST_BAIL : fast_conditions(f, p);
        else
            fast_skip(f);
        if (rc)
            return rc;
    }
    if (!empty && more < 0)
        return FAST_BAIL;
    if (nom.n && !(p->nominated = intern_get(&m->strings, nom.s, nom.n)))
        return NSC_ERR_NOMEM;
    if (!phase.s || span_is(&phase, "Pending"))
        p->phase = PHASE_PENDING;
    else if (span_is(&phase, "Running"))
        p->phase = PHASE_RUNNING;
    else if (span_is(&phase, "Succeeded"))
        p->phase = PHASE_SUCCEEDED;
    else if (span_is(&phase, "Failed"))
        p->phase = PHASE_FAILED;
    else
        p->phase = PHASE_UNKNOWN;
    return 0;
}

int
pod_from_text(struct model *m, const char *doc, size_t len, const char *raw_spec,
              size_t raw_spec_len, struct model_pod **out)
{
    struct fast f = {doc, doc + len};
    struct span k, name = {0}, ns = {0};
    unsigned seen = 0;
    bool empty;
    int rc = 0, more = 0;
    *out = NULL;
    struct model_pod *p = calloc(1, sizeof(*p));
    if (!p)
        return NSC_ERR_NOMEM;
    p->grace_s = 30;
    if (fast_obj_open(&f, &empty) != 0 || empty) {
        rc = FAST_BAIL;
        goto fail;
    }
    for (bool first = true; (more = fast_obj_key(&f, first, &k)) == 1; first = false) {
        if (span_is(&k, "metadata"))
            rc = fast_once(&seen, 1) ? FAST_BAIL : fast_meta(m, &f, p, &name, &ns);
        else if (span_is(&k, "spec"))
            rc = fast_once(&seen, 2) ? FAST_BAIL : fast_spec(m, &f, p);
        else if (span_is(&k, "status"))
            rc = fast_once(&seen, 4) ? FAST_BAIL : fast_status(m, &f, p);
        else
            fast_skip(&f);
        if (rc)
            goto fail;
    }
    if (more < 0 || !(seen & 1) || !(seen & 2)) {
        rc = FAST_BAIL;
        goto fail;
    }
    if (!(p->name = strndup(name.s, name.n)) ||
        !(p->ns = intern_get(&m->strings, ns.s, ns.n))) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    /* Last: a found spec gains a reference. A spec without any scheduling member has
     * empty raw text, which must still be looked up, never read from the absent tree. */
    struct pctx c = {.m = m,
                     .raw_spec = raw_spec ? raw_spec : "",
                     .raw_spec_len = raw_spec_len,
                     .raw_only = true};
    if ((rc = pod_spec_build(&c, NULL, p->ns, &p->spec)) != 0)
        goto fail;
    *out = p;
    return 0;
fail:
    pod_free(m, p);
    /* Whatever is not plain, even an error, goes the tree way, which words the warning:
     * only running out of memory stops here. */
    return rc == NSC_ERR_NOMEM ? rc : POD_SPEC_MISS;
}
