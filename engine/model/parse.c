/* JSON -> model helpers: labels, resource lists, label and node selectors, timestamps. */
#include "model/parse_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/quantity.h"

int
pfail(struct pctx *c, const char *field, const char *fmt, ...)
{
    if (c->err && c->err_len) {
        char why[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        snprintf(c->err, c->err_len, "field %s: %s", field, why);
    }
    return NSC_ERR_INVALID;
}

int
get_str(struct pctx *c, json_t *obj, const char *key, const char *field, const char **out)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return pfail(c, field, "expected a string");
    *out = json_string_value(v);
    return 0;
}

static int64_t
days_from_civil(int64_t y, unsigned mo, unsigned d)
{
    y -= mo <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int
time_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6 || mo < 1 ||
        mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    /* Offsets other than Z: apply them. sscanf accepts short fields ("1-1-1T1:1:1"), so
     * the text may end before byte 19. */
    size_t n = strlen(s);
    const char *p = s + (n < 19 ? n : 19);
    while (*p == '.' || (*p >= '0' && *p <= '9'))
        p++;
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) == 2)
            t += (*p == '+' ? -1 : 1) * (oh * 3600 + om * 60);
    }
    *out = t;
    return 0;
}

int
get_time(struct pctx *c, json_t *obj, const char *key, const char *field, int64_t *out)
{
    const char *s;
    *out = 0;
    int rc = get_str(c, obj, key, field, &s);
    if (rc < 0 || !s)
        return rc;
    if (time_parse(s, out) < 0)
        return pfail(c, field, "not an RFC 3339 time: \"%.40s\"", s);
    return 0;
}

static int
label_cmp(const void *a, const void *b)
{
    const struct label *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

bool
model_keep_annotation(const char *key)
{
    /* The last three: a StorageClass's default mark and a claim's legacy class. */
    return strncmp(key, "cluster-autoscaler.kubernetes.io/", 33) == 0 ||
           strncmp(key, "nodescaler", 10) == 0 ||
           strcmp(key, "kubernetes.io/config.mirror") == 0 ||
           strcmp(key, "storageclass.kubernetes.io/is-default-class") == 0 ||
           strcmp(key, "storageclass.beta.kubernetes.io/is-default-class") == 0 ||
           strcmp(key, "volume.beta.kubernetes.io/storage-class") == 0;
}

int
parse_labelset(struct pctx *c, json_t *obj, const char *field, bool annotations,
               struct labelset **out)
{
    *out = NULL;
    if (!obj || json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return pfail(c, field, "expected an object");
    size_t n = json_object_size(obj);
    if (n == 0)
        return 0;
    struct labelset *ls = malloc(sizeof(*ls) + n * sizeof(struct label));
    if (!ls)
        return NSC_ERR_NOMEM;
    ls->n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (annotations && !model_keep_annotation(k))
            continue;
        if (!json_is_string(v)) {
            free(ls);
            return pfail(c, field, "value of \"%.60s\" is not a string", k);
        }
        uint32_t ki = intern_cstr(&c->m->strings, k);
        uint32_t vi = intern_get(&c->m->strings, json_string_value(v), json_string_length(v));
        if (!ki || !vi) {
            free(ls);
            return NSC_ERR_NOMEM;
        }
        ls->l[ls->n].key = ki;
        ls->l[ls->n].val = vi;
        ls->n++;
    }
    if (ls->n == 0) {
        free(ls);
        return 0;
    }
    qsort(ls->l, ls->n, sizeof(struct label), label_cmp);
    *out = ls;
    return 0;
}

uint32_t
labels_get(const struct labelset *ls, uint32_t key)
{
    if (!ls)
        return INTERN_NONE;
    uint32_t lo = 0, hi = ls->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (ls->l[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ls->n && ls->l[lo].key == key ? ls->l[lo].val : INTERN_NONE;
}

void
res_free(struct res *r)
{
    free(r->ext);
    memset(r, 0, sizeof(*r));
}

int64_t
res_ext_get(const struct res *r, uint32_t name)
{
    for (uint32_t i = 0; i < r->n_ext; i++)
        if (r->ext[i].name == name)
            return r->ext[i].val;
    return 0;
}

static int
ext_cmp(const void *a, const void *b)
{
    const struct res_ext *x = a, *y = b;
    return x->name < y->name ? -1 : x->name > y->name;
}

static int
res_ext_set(struct res *r, uint32_t name, int64_t val, bool add)
{
    for (uint32_t i = 0; i < r->n_ext; i++) {
        if (r->ext[i].name == name) {
            if (add)
                r->ext[i].val = __builtin_add_overflow(r->ext[i].val, val, &r->ext[i].val)
                                    ? INT64_MAX
                                    : r->ext[i].val;
            else if (val > r->ext[i].val)
                r->ext[i].val = val;
            return 0;
        }
    }
    struct res_ext *ne = realloc(r->ext, (r->n_ext + 1) * sizeof(*ne));
    if (!ne)
        return NSC_ERR_NOMEM;
    r->ext = ne;
    r->ext[r->n_ext].name = name;
    r->ext[r->n_ext].val = val;
    r->n_ext++;
    qsort(r->ext, r->n_ext, sizeof(*r->ext), ext_cmp);
    return 0;
}

static int64_t
sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

int
res_add(struct res *dst, const struct res *src)
{
    for (int i = 0; i < RES_N_FIXED; i++)
        dst->fixed[i] = sat_add(dst->fixed[i], src->fixed[i]);
    for (uint32_t i = 0; i < src->n_ext; i++)
        if (res_ext_set(dst, src->ext[i].name, src->ext[i].val, true) < 0)
            return NSC_ERR_NOMEM;
    return 0;
}

int
res_max(struct res *dst, const struct res *src)
{
    for (int i = 0; i < RES_N_FIXED; i++)
        if (src->fixed[i] > dst->fixed[i])
            dst->fixed[i] = src->fixed[i];
    for (uint32_t i = 0; i < src->n_ext; i++)
        if (res_ext_set(dst, src->ext[i].name, src->ext[i].val, false) < 0)
            return NSC_ERR_NOMEM;
    return 0;
}

int
parse_res(struct pctx *c, json_t *obj, const char *field, struct res *out)
{
    memset(out, 0, sizeof(*out));
    if (!obj || json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return pfail(c, field, "expected a map of quantities");
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        char qerr[160], num[64];
        const char *text;
        size_t len;
        if (json_is_string(v)) {
            text = json_string_value(v);
            len = json_string_length(v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            text = num;
            len = strlen(num);
        } else if (json_is_real(v)) {
            snprintf(num, sizeof(num), "%.17g", json_real_value(v));
            text = num;
            len = strlen(num);
        } else if (json_is_null(v)) {
            continue;
        } else {
            res_free(out);
            return pfail(c, field, "%s: expected a quantity string", k);
        }
        int64_t milli = 0, units = 0;
        bool is_cpu = strcmp(k, "cpu") == 0;
        if (quantity_parse(text, len, is_cpu ? &milli : NULL, is_cpu ? NULL : &units, qerr,
                           sizeof(qerr)) < 0) {
            res_free(out);
            return pfail(c, field, "%s: %s", k, qerr);
        }
        if (milli < 0 || units < 0) {
            res_free(out);
            return pfail(c, field, "%s: negative quantity \"%.40s\"", k, text);
        }
        if (is_cpu)
            out->fixed[RES_CPU] = milli;
        else if (strcmp(k, "memory") == 0)
            out->fixed[RES_MEMORY] = units;
        else if (strcmp(k, "ephemeral-storage") == 0)
            out->fixed[RES_EPHEMERAL] = units;
        else if (strcmp(k, "pods") == 0)
            out->fixed[RES_PODS] = units;
        else {
            uint32_t id = intern_cstr(&c->m->strings, k);
            if (!id || res_ext_set(out, id, units, false) < 0) {
                res_free(out);
                return NSC_ERR_NOMEM;
            }
        }
    }
    return 0;
}

void
selector_free(struct selector *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        free(s->reqs[i].vals);
    free(s->reqs);
    memset(s, 0, sizeof(*s));
}

static int
sel_add(struct selector *s, struct sel_req *r)
{
    struct sel_req *nr = realloc(s->reqs, (s->n + 1) * sizeof(*nr));
    if (!nr)
        return NSC_ERR_NOMEM;
    s->reqs = nr;
    s->reqs[s->n++] = *r;
    return 0;
}

static int
parse_op(const char *op, uint8_t *out, bool numeric_ok)
{
    if (strcmp(op, "In") == 0)
        *out = SEL_IN;
    else if (strcmp(op, "NotIn") == 0)
        *out = SEL_NOT_IN;
    else if (strcmp(op, "Exists") == 0)
        *out = SEL_EXISTS;
    else if (strcmp(op, "DoesNotExist") == 0)
        *out = SEL_DOES_NOT_EXIST;
    else if (numeric_ok && strcmp(op, "Gt") == 0)
        *out = SEL_GT;
    else if (numeric_ok && strcmp(op, "Lt") == 0)
        *out = SEL_LT;
    else
        return -1;
    return 0;
}

/* Parse a matchExpressions-style array into s (appending). */
static int
parse_exprs(struct pctx *c, json_t *arr, const char *field, bool numeric_ok, struct selector *s)
{
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, field, "expected an array");
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *key, *op;
        if (!json_is_object(e))
            return pfail(c, field, "entry %zu is not an object", i);
        if (get_str(c, e, "key", field, &key) < 0 || get_str(c, e, "operator", field, &op) < 0)
            return NSC_ERR_INVALID;
        if (!key || !op)
            return pfail(c, field, "entry %zu lacks key or operator", i);
        struct sel_req r = {0};
        if (parse_op(op, &r.op, numeric_ok) < 0)
            return pfail(c, field, "entry %zu: unknown operator \"%.30s\"", i, op);
        r.key = intern_cstr(&c->m->strings, key);
        json_t *vals = json_object_get(e, "values");
        if (vals && !json_is_null(vals) && !json_is_array(vals))
            return pfail(c, field, "entry %zu: values is not an array", i);
        size_t nv = vals ? json_array_size(vals) : 0;
        if (r.op == SEL_GT || r.op == SEL_LT) {
            if (nv != 1)
                return pfail(c, field, "entry %zu: %s needs exactly one value", i, op);
            json_t *v0 = json_array_get(vals, 0);
            char *end;
            const char *t = json_is_string(v0) ? json_string_value(v0) : NULL;
            if (!t || !*t)
                return pfail(c, field, "entry %zu: %s value is not an integer", i, op);
            long long n = strtoll(t, &end, 10);
            if (*end)
                return pfail(c, field, "entry %zu: %s value is not an integer", i, op);
            r.num = n;
        } else if (nv) {
            r.vals = malloc(nv * sizeof(*r.vals));
            if (!r.vals)
                return NSC_ERR_NOMEM;
            for (size_t j = 0; j < nv; j++) {
                json_t *v = json_array_get(vals, j);
                if (!json_is_string(v)) {
                    free(r.vals);
                    return pfail(c, field, "entry %zu: value %zu is not a string", i, j);
                }
                r.vals[j] =
                    intern_get(&c->m->strings, json_string_value(v), json_string_length(v));
            }
            r.n_vals = (uint32_t)nv;
        }
        if ((r.op == SEL_IN || r.op == SEL_NOT_IN) && nv == 0 && !numeric_ok) {
            free(r.vals);
            return pfail(c, field, "entry %zu: %s needs values", i, op);
        }
        if (sel_add(s, &r) < 0) {
            free(r.vals);
            return NSC_ERR_NOMEM;
        }
    }
    return 0;
}

int
parse_selector(struct pctx *c, json_t *obj, const char *field, struct selector *out)
{
    memset(out, 0, sizeof(*out));
    if (!obj || json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return pfail(c, field, "expected a label selector object");
    json_t *ml = json_object_get(obj, "matchLabels");
    if (ml && !json_is_null(ml)) {
        if (!json_is_object(ml))
            return pfail(c, field, "matchLabels is not an object");
        const char *k;
        json_t *v;
        json_object_foreach(ml, k, v)
        {
            if (!json_is_string(v)) {
                selector_free(out);
                return pfail(c, field, "matchLabels value of \"%.60s\" is not a string", k);
            }
            struct sel_req r = {
                .key = intern_cstr(&c->m->strings, k), .op = SEL_IN, .n_vals = 1};
            r.vals = malloc(sizeof(*r.vals));
            if (!r.vals) {
                selector_free(out);
                return NSC_ERR_NOMEM;
            }
            r.vals[0] = intern_get(&c->m->strings, json_string_value(v), json_string_length(v));
            if (sel_add(out, &r) < 0) {
                free(r.vals);
                selector_free(out);
                return NSC_ERR_NOMEM;
            }
        }
    }
    int rc = parse_exprs(c, json_object_get(obj, "matchExpressions"), field, false, out);
    if (rc < 0)
        selector_free(out);
    return rc;
}

void
node_selector_free(struct node_selector *ns)
{
    if (!ns)
        return;
    for (uint32_t i = 0; i < ns->n_terms; i++) {
        selector_free(&ns->terms[i].exprs);
        selector_free(&ns->terms[i].fields);
    }
    free(ns->terms);
    free(ns);
}

int
parse_node_selector(struct pctx *c, json_t *obj, const char *field, struct node_selector **out)
{
    *out = NULL;
    if (!obj || json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return pfail(c, field, "expected a node selector object");
    json_t *terms = json_object_get(obj, "nodeSelectorTerms");
    if (terms && !json_is_null(terms) && !json_is_array(terms))
        return pfail(c, field, "nodeSelectorTerms is not an array");
    struct node_selector *ns = calloc(1, sizeof(*ns));
    if (!ns)
        return NSC_ERR_NOMEM;
    size_t nt = terms ? json_array_size(terms) : 0;
    if (nt) {
        ns->terms = calloc(nt, sizeof(*ns->terms));
        if (!ns->terms) {
            free(ns);
            return NSC_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < nt; i++) {
        json_t *t = json_array_get(terms, i);
        ns->n_terms++;
        if (!json_is_object(t)) {
            node_selector_free(ns);
            return pfail(c, field, "term %zu is not an object", i);
        }
        int rc = parse_exprs(c, json_object_get(t, "matchExpressions"), field, true,
                             &ns->terms[i].exprs);
        if (rc == 0)
            rc = parse_exprs(c, json_object_get(t, "matchFields"), field, true,
                             &ns->terms[i].fields);
        if (rc < 0) {
            node_selector_free(ns);
            return rc;
        }
        for (uint32_t j = 0; j < ns->terms[i].fields.n; j++) {
            if (ns->terms[i].fields.reqs[j].key != c->m->s_metadata_name) {
                node_selector_free(ns);
                return pfail(c, field, "term %zu: matchFields supports only metadata.name", i);
            }
        }
    }
    *out = ns;
    return 0;
}

static bool
req_matches(const struct intern *in, const struct sel_req *r, uint32_t val)
{
    switch (r->op) {
    case SEL_IN:
        for (uint32_t i = 0; i < r->n_vals; i++)
            if (r->vals[i] == val)
                return true;
        return false;
    case SEL_NOT_IN:
        if (val == INTERN_NONE)
            return true;
        for (uint32_t i = 0; i < r->n_vals; i++)
            if (r->vals[i] == val)
                return false;
        return true;
    case SEL_EXISTS:
        return val != INTERN_NONE;
    case SEL_DOES_NOT_EXIST:
        return val == INTERN_NONE;
    case SEL_GT:
    case SEL_LT: {
        if (val == INTERN_NONE)
            return false;
        const char *s = intern_str(in, val);
        char *end;
        if (!*s)
            return false;
        long long n = strtoll(s, &end, 10);
        if (*end)
            return false;
        return r->op == SEL_GT ? n > r->num : n < r->num;
    }
    }
    return false;
}

bool
selector_matches(const struct intern *in, const struct selector *sel, const struct labelset *ls)
{
    for (uint32_t i = 0; i < sel->n; i++)
        if (!req_matches(in, &sel->reqs[i], labels_get(ls, sel->reqs[i].key)))
            return false;
    return true;
}

bool
node_selector_matches(const struct intern *in, const struct node_selector *ns,
                      uint32_t node_name, const struct labelset *labels)
{
    for (uint32_t t = 0; t < ns->n_terms; t++) {
        const struct node_term *term = &ns->terms[t];
        /* A term with neither expressions nor fields selects no node. */
        if (term->exprs.n == 0 && term->fields.n == 0)
            continue;
        if (!selector_matches(in, &term->exprs, labels))
            continue;
        bool ok = true;
        for (uint32_t j = 0; j < term->fields.n && ok; j++)
            ok = req_matches(in, &term->fields.reqs[j], node_name);
        if (ok)
            return true;
    }
    return false;
}
