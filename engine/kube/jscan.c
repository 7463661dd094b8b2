/* Raw JSON skimming: a streaming splitter of List bodies into items, and readers of a few
 * metadata fields and of a watch event's parts, all without building a JSON tree. They
 * check structure (brackets, strings, separators) only as far as they need to; whatever
 * they hand on is decoded, and so validated, by jansson or the model afterwards. */
#include "config.h"

#include "kube/jscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nodescaler/backend.h>

enum ls_state {
    LS_START = 0,    /* before the list's '{' */
    LS_KEY_OR_END,   /* in the list object: a key, or '}' */
    LS_KEY,          /* inside a key string */
    LS_COLON,        /* after a key */
    LS_VALUE,        /* the start of a value of the list object */
    LS_NEST,         /* inside an object/array value (skipped or captured) */
    LS_STR,          /* inside a string value */
    LS_SCALAR,       /* inside a number, true, false or null */
    LS_COMMA_OR_END, /* after a value of the list object */
    LS_ELEM,         /* in items: an element, or ']' */
    LS_ELEM_COMMA,   /* in items: after an element */
    LS_END           /* after the list's '}' */
};

enum ls_which { LS_OTHER = 0, LS_META, LS_ITEM };

static int
is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int
grow(char **buf, size_t *cap, size_t need)
{
    size_t cap2 = *cap ? *cap : 4096;
    char *g;

    if (need <= *cap)
        return 0;
    while (cap2 < need)
        cap2 *= 2;
    g = realloc(*buf, cap2);
    if (g == NULL)
        return NSC_ERR_NOMEM;
    *buf = g;
    *cap = cap2;
    return 0;
}

static int
append(char **buf, size_t *len, size_t *cap, const char *d, size_t n)
{
    if (grow(buf, cap, *len + n + 1) != 0)
        return NSC_ERR_NOMEM;
    memcpy(*buf + *len, d, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int
ls_fail(struct kube_listscan *s, const char *what, char c)
{
    snprintf(s->err, sizeof(s->err), "not a list: %s (found '%c' after %zu items)", what,
             (c >= 0x20 && c < 0x7f) ? c : '?', s->n_items);
    return NSC_ERR_INVALID;
}

/* A nested value ended at p (one past its last byte): hand it on. */
static int
ls_value_done(struct kube_listscan *s, const char *start, const char *p)
{
    int rc = 0;

    if (s->which == LS_META) {
        if (append(&s->meta, &s->meta_len, &s->meta_cap, start, (size_t)(p - start)) != 0)
            return NSC_ERR_NOMEM;
        s->state = LS_COMMA_OR_END;
    } else if (s->which == LS_ITEM) {
        s->n_items++;
        if (s->len == 0) {
            rc = s->cb(s->ud, start, (size_t)(p - start));
        } else {
            if (append(&s->buf, &s->len, &s->cap, start, (size_t)(p - start)) != 0)
                return NSC_ERR_NOMEM;
            rc = s->cb(s->ud, s->buf, s->len);
            s->len = 0;
        }
        s->state = LS_ELEM_COMMA;
    } else {
        s->state = LS_COMMA_OR_END;
    }
    return rc;
}

int
kube_listscan_feed(struct kube_listscan *s, const char *data, size_t n)
{
    const char *p = data, *end = data + n;
    /* where the value being captured starts in this chunk */
    const char *start = (s->state == LS_NEST && s->which != LS_OTHER) ? data : NULL;
    int rc;

    while (p < end) {
        char c;

        switch (s->state) {
        case LS_NEST:
            /* the hot loop: brackets outside strings, strings skipped to their quote */
            while (p < end) {
                c = *p++;
                if (s->in_str) {
                    if (s->esc) {
                        s->esc = 0;
                        continue;
                    }
                    while (c != '"' && c != '\\' && p < end)
                        c = *p++;
                    if (c == '\\')
                        s->esc = 1;
                    else if (c == '"')
                        s->in_str = 0;
                    continue;
                }
                if (c == '"') {
                    s->in_str = 1;
                } else if (c == '{' || c == '[') {
                    s->depth++;
                } else if (c == '}' || c == ']') {
                    if (--s->depth == 0) {
                        rc = ls_value_done(s, start, p);
                        start = NULL;
                        if (rc)
                            return rc;
                        break;
                    }
                }
            }
            continue;
        case LS_STR:
            c = *p++;
            if (s->esc)
                s->esc = 0;
            else if (c == '\\')
                s->esc = 1;
            else if (c == '"')
                s->state = LS_COMMA_OR_END;
            continue;
        case LS_KEY:
            c = *p++;
            if (s->esc) {
                s->esc = 0;
                s->key_len = sizeof(s->key); /* an escaped key is none we look for */
            } else if (c == '\\') {
                s->esc = 1;
            } else if (c == '"') {
                s->state = LS_COLON;
            } else if (s->key_len < sizeof(s->key) - 1) {
                s->key[s->key_len++] = c;
            } else {
                s->key_len = sizeof(s->key);
            }
            continue;
        case LS_SCALAR:
            c = *p;
            if (c == ',' || c == '}' || c == ']' || is_ws(c))
                s->state = s->which == LS_ITEM ? LS_ELEM_COMMA : LS_COMMA_OR_END;
            else
                p++;
            continue;
        default:
            break;
        }
        c = *p++;
        if (is_ws(c))
            continue;
        switch (s->state) {
        case LS_START:
            if (c != '{')
                return ls_fail(s, "the body is not a JSON object", c);
            s->state = LS_KEY_OR_END;
            s->expect_key = 0;
            break;
        case LS_KEY_OR_END:
            if (c == '"') {
                s->state = LS_KEY;
                s->key_len = 0;
            } else if (c == '}' && !s->expect_key) {
                s->state = LS_END;
            } else {
                return ls_fail(s, "expected a key", c);
            }
            break;
        case LS_COLON:
            if (c != ':')
                return ls_fail(s, "expected ':'", c);
            s->state = LS_VALUE;
            break;
        case LS_VALUE: {
            int is_items = s->key_len == 5 && memcmp(s->key, "items", 5) == 0;
            int is_meta = s->key_len == 8 && memcmp(s->key, "metadata", 8) == 0;

            s->which = LS_OTHER;
            if (is_items && c == '[') {
                s->state = LS_ELEM;
                s->first = 1;
            } else if (is_items && c != 'n') {
                return ls_fail(s, "items is not an array", c);
            } else if (c == '{' || c == '[') {
                if (is_meta && c == '{') {
                    s->which = LS_META;
                    s->meta_len = 0;
                    start = p - 1;
                }
                s->state = LS_NEST;
                s->depth = 1;
                s->in_str = s->esc = 0;
            } else if (c == '"') {
                s->state = LS_STR;
                s->esc = 0;
            } else {
                s->state = LS_SCALAR;
            }
            break;
        }
        case LS_COMMA_OR_END:
            if (c == ',') {
                s->state = LS_KEY_OR_END;
                s->expect_key = 1;
            } else if (c == '}') {
                s->state = LS_END;
            } else {
                return ls_fail(s, "expected ',' or '}'", c);
            }
            break;
        case LS_ELEM:
            if (c == ']' && s->first) {
                s->state = LS_COMMA_OR_END;
            } else if (c == '{') {
                s->which = LS_ITEM;
                s->state = LS_NEST;
                s->depth = 1;
                s->in_str = s->esc = 0;
                s->len = 0;
                start = p - 1;
            } else {
                return ls_fail(s, "an element of items is not an object", c);
            }
            s->first = 0;
            break;
        case LS_ELEM_COMMA:
            if (c == ',')
                s->state = LS_ELEM;
            else if (c == ']')
                s->state = LS_COMMA_OR_END;
            else
                return ls_fail(s, "expected ',' or ']' in items", c);
            break;
        case LS_END:
            return ls_fail(s, "data after the end of the list", c);
        default:
            return ls_fail(s, "internal state", c);
        }
    }
    if (start != NULL) {
        /* a captured value continues in the next chunk */
        if (s->which == LS_META)
            rc = append(&s->meta, &s->meta_len, &s->meta_cap, start, (size_t)(end - start));
        else
            rc = append(&s->buf, &s->len, &s->cap, start, (size_t)(end - start));
        if (rc)
            return rc;
    }
    return 0;
}

int
kube_listscan_finish(struct kube_listscan *s)
{
    if (s->state == LS_END)
        return 0;
    snprintf(s->err, sizeof(s->err), "not a list: the body ended %s (after %zu items)",
             s->state == LS_START ? "before it began" : "inside it", s->n_items);
    return NSC_ERR_INVALID;
}

void
kube_listscan_free(struct kube_listscan *s)
{
    free(s->buf);
    free(s->meta);
    s->buf = s->meta = NULL;
    s->len = s->cap = s->meta_len = s->meta_cap = 0;
}

/* ---- whole-text readers --------------------------------------------------------------- */

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* p at '"': the contents in *out; returns one past the closing quote, or NULL.
 * *escaped tells whether the contents hold a backslash. */
static const char *
read_string(const char *p, const char *end, struct kube_span *out, int *escaped)
{
    const char *q = ++p;

    *escaped = 0;
    while (q < end && *q != '"') {
        if (*q == '\\') {
            *escaped = 1;
            q++;
        }
        q++;
    }
    if (q >= end)
        return NULL;
    out->p = p;
    out->len = (size_t)(q - p);
    return q + 1;
}

/* Skip one value starting at p (no leading blanks); returns one past it, or NULL. */
static const char *
skip_value(const char *p, const char *end)
{
    long depth = 0;

    if (p >= end)
        return NULL;
    if (*p == '"') {
        struct kube_span sp;
        int esc;

        return read_string(p, end, &sp, &esc);
    }
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p))
            p++;
        return p;
    }
    while (p < end) {
        char c = *p++;

        if (c == '"') {
            while (p < end && *p != '"') {
                if (*p == '\\')
                    p++;
                p++;
            }
            if (p >= end)
                return NULL;
            p++;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

typedef int member_fn(void *ud, const struct kube_span *key, const char *val,
                      const char *val_end);

/* Walk the members of the object at p, calling fn for each; fn returns 0 to go on, 1 to
 * stop there (found what it wanted), -1 to fail. Returns 0 or -1. */
static int
each_member(const char *p, const char *end, member_fn *fn, void *ud)
{
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return 0;
    while (p < end) {
        struct kube_span key;
        const char *v, *ve;
        int esc;

        if (*p != '"' || (p = read_string(p, end, &key, &esc)) == NULL)
            return -1;
        if (esc)
            key.len = 0; /* matches nothing we look for */
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return -1;
        v = skip_ws(p + 1, end);
        if ((ve = skip_value(v, end)) == NULL || ve == v)
            return -1;
        switch (fn(ud, &key, v, ve)) {
        case 0:
            break;
        case 1:
            return 0;
        default:
            return -1;
        }
        p = skip_ws(ve, end);
        if (p < end && *p == '}')
            return 0;
        if (p >= end || *p != ',')
            return -1;
        p = skip_ws(p + 1, end);
    }
    return -1;
}

static int
key_is(const struct kube_span *k, const char *s, size_t n)
{
    return k->len == n && memcmp(k->p, s, n) == 0;
}

/* A string member's contents into *out; -1 when it is not a plain string. */
static int
string_member(const char *v, const char *ve, struct kube_span *out)
{
    int esc;

    if (*v == 'n' && ve - v == 4 && memcmp(v, "null", 4) == 0)
        return 0;
    if (*v != '"' || read_string(v, ve, out, &esc) == NULL || esc)
        return -1;
    return 0;
}

static int
meta_field(void *ud, const struct kube_span *key, const char *v, const char *ve)
{
    struct kube_raw_meta *m = ud;

    if (key_is(key, "name", 4))
        return string_member(v, ve, &m->name);
    if (key_is(key, "namespace", 9))
        return string_member(v, ve, &m->ns);
    if (key_is(key, "resourceVersion", 15))
        return string_member(v, ve, &m->rv);
    return 0;
}

static int
meta_top(void *ud, const struct kube_span *key, const char *v, const char *ve)
{
    if (key_is(key, "metadata", 8))
        return each_member(v, ve, meta_field, ud) == 0 ? 1 : -1;
    return 0;
}

int
kube_raw_meta(const char *json, size_t len, struct kube_raw_meta *out)
{
    memset(out, 0, sizeof(*out));
    if (each_member(json, json + len, meta_top, out) != 0)
        return NSC_ERR_INVALID;
    return 0;
}

struct event_parts {
    struct kube_span *type, *object;
};

static int
event_field(void *ud, const struct kube_span *key, const char *v, const char *ve)
{
    struct event_parts *e = ud;

    if (key_is(key, "type", 4) && string_member(v, ve, e->type) != 0)
        return -1;
    if (key_is(key, "object", 6)) {
        e->object->p = v;
        e->object->len = (size_t)(ve - v);
    }
    return 0; /* read to the end: the object is usually last, and the envelope is checked */
}

int
kube_raw_event(const char *json, size_t len, struct kube_span *type, struct kube_span *object)
{
    struct event_parts e = {type, object};

    memset(type, 0, sizeof(*type));
    memset(object, 0, sizeof(*object));
    if (each_member(json, json + len, event_field, &e) != 0 || type->len == 0 ||
        object->len == 0 || object->p[0] != '{')
        return NSC_ERR_INVALID;
    return 0;
}
