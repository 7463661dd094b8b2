/* Item scanner: walks one Kubernetes object's JSON bytes, validating them as jansson
 * would, and copies out only the subtrees the model reads (managedFields, env, probes,
 * images and most of status are skipped without being built). */
#include "model/scan.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nodescaler/backend.h>

#include "model/model.h"

/* How a kept member's value is copied. */
enum scan_how {
    SR_KEEP = 0, /* the whole value */
    SR_OBJ,      /* an object: only the members its rules name (else the whole value) */
    SR_ARR_OBJ,  /* an array of such objects (else the whole value) */
    SR_ANNOT     /* an object: only the annotation keys the model keeps */
};

struct scan_rule {
    const char *name;
    uint8_t len;
    uint8_t how;
    bool spec_key; /* part of a pod's scheduling-spec key (podspec.c spec_key) */
    const struct scan_rule *sub;
};

#define R(n)                                                                                   \
    {                                                                                          \
        n, sizeof(n) - 1, SR_KEEP, false, NULL                                                 \
    }
#define RK(n)                                                                                  \
    {                                                                                          \
        n, sizeof(n) - 1, SR_KEEP, true, NULL                                                  \
    }
#define RO(n, s)                                                                               \
    {                                                                                          \
        n, sizeof(n) - 1, SR_OBJ, false, s                                                     \
    }
#define RA(n, s)                                                                               \
    {                                                                                          \
        n, sizeof(n) - 1, SR_ARR_OBJ, false, s                                                 \
    }
#define RKA(n, s)                                                                              \
    {                                                                                          \
        n, sizeof(n) - 1, SR_ARR_OBJ, true, s                                                  \
    }
#define REND                                                                                   \
    {                                                                                          \
        NULL, 0, 0, false, NULL                                                                \
    }

/* Every member read by model.c, parse.c and podspec.c; keep in step with them. */
static const struct scan_rule r_owner[] = {R("controller"), R("kind"), R("name"), R("uid"),
                                           REND};
static const struct scan_rule r_meta[] = {R("name"),
                                          R("namespace"),
                                          R("labels"),
                                          {"annotations", 11, SR_ANNOT, false, NULL},
                                          R("creationTimestamp"),
                                          R("deletionTimestamp"),
                                          RA("ownerReferences", r_owner),
                                          REND};
static const struct scan_rule r_ctr[] = {R("resources"), R("ports"), R("restartPolicy"), REND};
static const struct scan_rule r_spec[] = {
    /* Pod: the scheduling spec (the members of podspec.c's spec_key). Volumes stay whole:
     * the key holds every member of a claim, emptyDir or hostPath volume. */
    RKA("containers", r_ctr), RKA("initContainers", r_ctr), RK("volumes"), RK("nodeSelector"),
    RK("affinity"), RK("tolerations"), RK("topologySpreadConstraints"), RK("overhead"),
    RK("resources"), RK("priority"), RK("preemptionPolicy"), RK("schedulingGates"),
    RK("hostNetwork"),
    /* Pod, outside the key. */
    R("nodeName"), R("terminationGracePeriodSeconds"),
    /* Node. */
    R("providerID"), R("unschedulable"), R("taints"),
    /* PodDisruptionBudget. */
    R("selector"), R("minAvailable"), R("maxUnavailable"),
    /* PersistentVolume, PersistentVolumeClaim (resources and selector above). */
    R("nodeAffinity"), R("volumeName"), R("storageClassName"), R("accessModes"), R("capacity"),
    R("claimRef"), R("volumeMode"), R("csi"),
    /* CSINode. */
    R("drivers"), REND};
static const struct scan_rule r_cond[] = {R("type"), R("status"), R("reason"),
                                          R("lastTransitionTime"), REND};
static const struct scan_rule r_status[] = {
    R("phase"),       R("nominatedNodeName"),  RA("conditions", r_cond), R("capacity"),
    R("allocatable"), R("disruptionsAllowed"), R("expectedPods"),        REND};
static const struct scan_rule r_top[] = {
    R("kind"), RO("metadata", r_meta), RO("spec", r_spec), RO("status", r_status),
    /* StorageClass: these are top-level members. */
    R("provisioner"), R("volumeBindingMode"), R("allowedTopologies"), REND};

struct scan {
    const unsigned char *p, *start, *end;
    bool split;
    struct scan_result *res;
    char *err;
    size_t err_len;
};

/* ---- output ---- */

static int
buf_put(struct scan_buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np)
            return NSC_ERR_NOMEM;
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static int
buf_putc(struct scan_buf *b, char c)
{
    if (b->len < b->cap) {
        b->p[b->len++] = c;
        return 0;
    }
    return buf_put(b, &c, 1);
}

static int
fail(struct scan *sc, const char *what)
{
    if (sc->err && sc->err_len)
        snprintf(sc->err, sc->err_len, "%s at byte %zu", what, (size_t)(sc->p - sc->start));
    return NSC_ERR_INVALID;
}

/* ---- tokens ---- */

static void
skip_ws(struct scan *sc)
{
    const unsigned char *p = sc->p, *end = sc->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    sc->p = p;
}

static int
hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of the UTF-8 sequence at p (its first byte >= 0x80) when jansson's utf8_check_*
 * accept it: no overlong forms, no surrogates, nothing past U+10FFFF. 0 when invalid. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) ||
        (n == 4 && v < 0x10000))
        return 0;
    return n;
}

/* True when any byte of w needs a look: '"', '\\', a control character or non-ASCII. */
static inline bool
word_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t zq = (q - ones) & ~q, zb = (b - ones) & ~b, lt = (w - ones * 0x20) & ~w;
    return ((zq | zb | lt) & highs) != 0 || (w & highs) != 0;
}

/*
 * A string at sc->p (on its opening quote). On return sc->p is past the closing quote.
 * When dec is not NULL the decoded UTF-8 goes there (up to dec_cap - 1 bytes, NUL ended)
 * and *dec_len is its length, or SIZE_MAX when it did not fit.
 */
static int
scan_string(struct scan *sc, char *dec, size_t dec_cap, size_t *dec_len)
{
    const unsigned char *p = sc->p + 1, *end = sc->end;
    size_t dn = 0;
    bool fits = dec != NULL;
    for (;;) {
        const unsigned char *run = p;
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (word_special(w))
                break;
            p += 8;
        }
        while (p < end && *p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80)
            p++;
        if (fits) {
            size_t n = (size_t)(p - run);
            if (dn + n < dec_cap) {
                memcpy(dec + dn, run, n);
                dn += n;
            } else {
                fits = false;
            }
        }
        if (p >= end) {
            sc->p = p;
            return fail(sc, "truncated string");
        }
        unsigned char c = *p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20) {
            sc->p = p;
            return fail(sc, "control character in a string");
        }
        if (c >= 0x80) {
            size_t n = utf8_len(p, end);
            if (!n) {
                sc->p = p;
                return fail(sc, "invalid UTF-8 in a string");
            }
            if (fits) {
                if (dn + n < dec_cap) {
                    memcpy(dec + dn, p, n);
                    dn += n;
                } else {
                    fits = false;
                }
            }
            p += n;
            continue;
        }
        /* A backslash escape. */
        if (end - p < 2) {
            sc->p = p;
            return fail(sc, "truncated string");
        }
        char one = 0;
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
            one = (char)p[1];
            break;
        case 'b':
            one = '\b';
            break;
        case 'f':
            one = '\f';
            break;
        case 'n':
            one = '\n';
            break;
        case 'r':
            one = '\r';
            break;
        case 't':
            one = '\t';
            break;
        case 'u':
            break;
        default:
            sc->p = p;
            return fail(sc, "invalid escape in a string");
        }
        if (one) {
            if (fits) {
                if (dn + 1 < dec_cap)
                    dec[dn++] = one;
                else
                    fits = false;
            }
            p += 2;
            continue;
        }
        uint32_t v, v2;
        if (end - p < 6 || hex4(p + 2, &v) < 0) {
            sc->p = p;
            return fail(sc, "invalid \\u escape in a string");
        }
        p += 6;
        if (v == 0) {
            sc->p = p - 6;
            return fail(sc, "\\u0000 in a string");
        }
        if (v >= 0xDC00 && v <= 0xDFFF) {
            sc->p = p - 6;
            return fail(sc, "lone low surrogate in a string");
        }
        if (v >= 0xD800 && v <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &v2) < 0 ||
                v2 < 0xDC00 || v2 > 0xDFFF) {
                sc->p = p - 6;
                return fail(sc, "unpaired surrogate in a string");
            }
            p += 6;
            v = 0x10000 + ((v - 0xD800) << 10) + (v2 - 0xDC00);
        }
        if (fits) {
            unsigned char u[4];
            size_t n;
            if (v < 0x80) {
                u[0] = (unsigned char)v;
                n = 1;
            } else if (v < 0x800) {
                u[0] = (unsigned char)(0xC0 | (v >> 6));
                u[1] = (unsigned char)(0x80 | (v & 0x3F));
                n = 2;
            } else if (v < 0x10000) {
                u[0] = (unsigned char)(0xE0 | (v >> 12));
                u[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
                u[2] = (unsigned char)(0x80 | (v & 0x3F));
                n = 3;
            } else {
                u[0] = (unsigned char)(0xF0 | (v >> 18));
                u[1] = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
                u[2] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
                u[3] = (unsigned char)(0x80 | (v & 0x3F));
                n = 4;
            }
            if (dn + n < dec_cap) {
                memcpy(dec + dn, u, n);
                dn += n;
            } else {
                fits = false;
            }
        }
    }
    sc->p = p;
    if (dec) {
        if (fits) {
            dec[dn] = 0;
            *dec_len = dn;
        } else {
            dec[0] = 0;
            *dec_len = SIZE_MAX;
        }
    }
    return 0;
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A number, with jansson's grammar and its refusals: integers outside int64, reals that
 * overflow a double. */
static int
scan_number(struct scan *sc)
{
    const unsigned char *s = sc->p, *p = s, *end = sc->end;
    bool real = false, exp = false;
    if (p < end && *p == '-')
        p++;
    if (p >= end || !is_digit(*p))
        return fail(sc, "invalid number");
    if (*p == '0') {
        p++;
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && *p == '.') {
        real = true;
        p++;
        if (p >= end || !is_digit(*p)) {
            sc->p = p;
            return fail(sc, "invalid number");
        }
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = exp = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p)) {
            sc->p = p;
            return fail(sc, "invalid number");
        }
        while (p < end && is_digit(*p))
            p++;
    }
    size_t n = (size_t)(p - s);
    /* 18 characters without an exponent always fit an int64 or a double. */
    if (n > 18 || exp) {
        char small[64], *tmp = n < sizeof(small) ? small : malloc(n + 1);
        if (!tmp)
            return NSC_ERR_NOMEM;
        memcpy(tmp, s, n);
        tmp[n] = 0;
        bool bad;
        errno = 0;
        if (real) {
            double d = strtod(tmp, NULL);
            bad = errno == ERANGE && (d > 1.0 || d < -1.0);
        } else {
            (void)strtoll(tmp, NULL, 10);
            bad = errno == ERANGE;
        }
        if (tmp != small)
            free(tmp);
        if (bad)
            return fail(sc, real ? "real number overflow" : "integer out of range");
    }
    sc->p = p;
    return 0;
}

static int
scan_literal(struct scan *sc)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(sc->end - sc->p) >= n && memcmp(sc->p, lits[i], n) == 0) {
            sc->p += n;
            return 0;
        }
    }
    return fail(sc, "invalid token");
}

/* ---- values ---- */

static int scan_value(struct scan *sc, unsigned depth, uint8_t how, const struct scan_rule *sub,
                      struct scan_buf *out);

static const struct scan_rule *
rule_find(const struct scan_rule *rules, const char *key, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    for (const struct scan_rule *r = rules; r->name; r++)
        if (r->len == len && memcmp(r->name, key, len) == 0)
            return r;
    return NULL;
}

/* An object at sc->p whose members are filtered (how SR_OBJ or SR_ANNOT); out NULL when
 * only checking. */
/* The opening byte of an object or array at sc->p, copied to out when out is not NULL.
 * Returns 0 when the value is empty (its closing byte read and copied too), 1 when a
 * member or element follows, or a negative status. */
static int
scan_open(struct scan *sc, char opening, char close, struct scan_buf *out)
{
    int rc;
    sc->p++;
    if (out && (rc = buf_putc(out, opening)) < 0)
        return rc;
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == close) {
        sc->p++;
        return out ? buf_putc(out, close) : 0;
    }
    return 1;
}

/* After a member or element: 1 on ',' (copied to out when copy_comma; an object's members
 * are filtered, so it writes its own commas), 0 on the closing byte (copied to out when
 * out is not NULL), or a negative status naming the container. */
static int
scan_next(struct scan *sc, char close, bool copy_comma, struct scan_buf *out)
{
    bool obj = close == '}';
    int rc;
    skip_ws(sc);
    if (sc->p >= sc->end)
        return fail(sc, obj ? "truncated object" : "truncated array");
    if (*sc->p == ',') {
        sc->p++;
        skip_ws(sc);
        if (copy_comma && out && (rc = buf_putc(out, ',')) < 0)
            return rc;
        return 1;
    }
    if (*sc->p == close) {
        sc->p++;
        return out ? buf_putc(out, close) : 0;
    }
    return fail(sc, obj ? "expected ',' or '}'" : "expected ',' or ']'");
}

static int
scan_object(struct scan *sc, unsigned depth, uint8_t how, const struct scan_rule *rules,
            struct scan_buf *out)
{
    char key[256];
    size_t key_len;
    bool first = true, first_key = true;
    int rc;
    bool top = depth == 1 && rules == r_top, spec = depth == 2 && rules == r_spec && sc->split;
    if ((rc = scan_open(sc, '{', '}', out)) <= 0)
        return rc;
    for (;;) {
        if (sc->p >= sc->end)
            return fail(sc, "truncated object");
        if (*sc->p != '"')
            return fail(sc, "expected a member name or '}'");
        const unsigned char *ks = sc->p;
        bool need_key = out != NULL && how != SR_KEEP;
        if ((rc = scan_string(sc, need_key ? key : NULL, sizeof(key), &key_len)) < 0)
            return rc;
        const unsigned char *ke = sc->p;
        skip_ws(sc);
        if (sc->p >= sc->end || *sc->p != ':')
            return fail(sc, sc->p >= sc->end ? "truncated object" : "expected ':'");
        sc->p++;
        skip_ws(sc);
        if (sc->p >= sc->end)
            return fail(sc, "truncated object");
        /* Which member, and where it goes. */
        const struct scan_rule *r = NULL;
        bool annot_keep = false;
        if (need_key) {
            if (how == SR_ANNOT)
                annot_keep = key_len == SIZE_MAX || model_keep_annotation(key);
            else
                r = rule_find(rules, key, key_len);
        }
        struct scan_buf *dst = NULL;
        if (r || annot_keep || (out && how == SR_KEEP)) {
            dst = out;
            bool *firstp = &first;
            if (spec && r && r->spec_key) {
                dst = &sc->res->spec_key;
                firstp = &first_key;
            }
            if (!*firstp && (rc = buf_putc(dst, ',')) < 0)
                return rc;
            *firstp = false;
            if ((rc = buf_put(dst, ks, (size_t)(ke - ks))) < 0 || (rc = buf_putc(dst, ':')) < 0)
                return rc;
        }
        const unsigned char *vs = sc->p;
        if (r)
            rc = scan_value(sc, depth + 1, r->how, r->sub, dst);
        else
            rc = scan_value(sc, depth + 1, SR_KEEP, NULL, dst);
        if (rc < 0)
            return rc;
        if (top && r) {
            if (r == &r_top[0]) {
                struct scan_result *res = sc->res;
                res->kind_member = true;
                res->has_kind = res->kind_too_long = false;
                if (*vs == '"') {
                    const unsigned char *save = sc->p;
                    size_t klen;
                    sc->p = vs;
                    if ((rc = scan_string(sc, res->kind, sizeof(res->kind), &klen)) < 0)
                        return rc;
                    sc->p = save;
                    res->has_kind = klen != SIZE_MAX;
                    res->kind_too_long = klen == SIZE_MAX;
                }
            } else if (r == &r_top[2]) {
                sc->res->n_spec++;
                sc->res->spec_is_obj = *vs == '{';
            }
        }
        if ((rc = scan_next(sc, '}', false, out)) <= 0)
            return rc;
    }
}

static int
scan_array(struct scan *sc, unsigned depth, uint8_t how, const struct scan_rule *sub,
           struct scan_buf *out)
{
    int rc;
    if ((rc = scan_open(sc, '[', ']', out)) <= 0)
        return rc;
    for (;;) {
        if (sc->p >= sc->end)
            return fail(sc, "truncated array");
        if ((rc = scan_value(sc, depth + 1, how == SR_ARR_OBJ ? SR_OBJ : SR_KEEP, sub, out)) <
            0)
            return rc;
        if ((rc = scan_next(sc, ']', true, out)) <= 0)
            return rc;
    }
}

/* One value at sc->p (not whitespace). Copied to out when out is not NULL, filtered as how
 * says when it has the expected shape, whole otherwise. */
static int
scan_value(struct scan *sc, unsigned depth, uint8_t how, const struct scan_rule *sub,
           struct scan_buf *out)
{
    if (depth > SCAN_MAX_DEPTH)
        return fail(sc, "maximum nesting depth reached");
    if (sc->p >= sc->end)
        return fail(sc, "truncated value");
    const unsigned char *s = sc->p;
    int rc;
    switch (*s) {
    case '{':
        /* Kept values are copied token by token, so the copy is compact whatever the
         * indentation of the input (spec keys then compare equal). */
        return scan_object(sc, depth, how == SR_OBJ || how == SR_ANNOT ? how : SR_KEEP, sub,
                           out);
    case '[':
        return scan_array(sc, depth, how == SR_ARR_OBJ ? how : SR_KEEP, sub, out);
    case '"':
        rc = scan_string(sc, NULL, 0, NULL);
        break;
    case 't':
    case 'f':
    case 'n':
        rc = scan_literal(sc);
        break;
    default:
        rc = scan_number(sc);
        break;
    }
    if (rc < 0)
        return rc;
    return out ? buf_put(out, s, (size_t)(sc->p - s)) : 0;
}

int
scan_item(const char *text, size_t len, bool split, struct scan_result *res, char *err,
          size_t err_len)
{
    struct scan sc = {.p = (const unsigned char *)text,
                      .start = (const unsigned char *)text,
                      .end = (const unsigned char *)text + len,
                      .split = split,
                      .res = res,
                      .err = err,
                      .err_len = err_len};
    res->doc.len = 0;
    if (split)
        res->spec_key.len = 0;
    res->kind[0] = 0;
    res->has_kind = res->kind_too_long = res->spec_is_obj = res->kind_member = false;
    res->n_spec = 0;
    skip_ws(&sc);
    if (sc.p >= sc.end)
        return fail(&sc, "empty document");
    if (*sc.p != '{' && *sc.p != '[')
        return fail(&sc, "expected '{' or '['");
    int rc = scan_value(&sc, 1, SR_OBJ, r_top, &res->doc);
    if (rc < 0)
        return rc;
    skip_ws(&sc);
    if (sc.p != sc.end)
        return fail(&sc, "text after the end of the object");
    return 0;
}

void
scan_result_free(struct scan_result *res)
{
    free(res->doc.p);
    free(res->spec_key.p);
    memset(res, 0, sizeof(*res));
}
