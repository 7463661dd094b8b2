/* Expanders: random, most-pods, least-waste, least-nodes and priority, applied as a chain
 * that narrows the options until one is left (ties then go to random). */
#include "scaleup/scaleup.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static uint64_t
rng_next(uint64_t *s)
{
    /* splitmix64: tiny, seedable, good enough for tie-breaking. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- priority configuration ---- */

/*
 * Go's regexp is RE2: linear time, (?i), \d = [0-9], \w = [0-9A-Za-z_]. PCRE2 without UCP
 * reads those the same way; what RE2 lacks (backtracking blow-ups, huge expansions) is held
 * by these bounds. A pattern names a group, so 1 KiB is plenty.
 */
#define PRIO_PATTERN_MAX 1024
#define PRIO_PARENS_MAX 32
#define PRIO_MATCH_LIMIT 100000
#define PRIO_DEPTH_LIMIT 1000
#define PRIO_HEAP_LIMIT_KIB 1024

struct prio_entry {
    long prio;
    pcre2_code *re;
    int line;
};

struct prio_config {
    struct prio_entry *e;
    size_t n;
    pcre2_match_context *mctx;
    pcre2_match_data *md;
};

struct scaleup_priorities {
    struct prio_config pc;
};

static void
prio_free(struct prio_config *pc)
{
    for (size_t i = 0; i < pc->n; i++)
        pcre2_code_free(pc->e[i].re);
    free(pc->e);
    pcre2_match_context_free(pc->mctx);
    pcre2_match_data_free(pc->md);
    memset(pc, 0, sizeof(*pc));
}

static int
prio_add(struct prio_config *pc, long prio, const char *pat, size_t len, int line, char *err,
         size_t err_len)
{
    /* Strip YAML quotes. */
    while (len && isspace((unsigned char)pat[len - 1]))
        len--;
    if (len >= 2 && (pat[0] == '"' || pat[0] == '\'') && pat[len - 1] == pat[0]) {
        pat++;
        len -= 2;
    }
    if (len == 0) {
        snprintf(err, err_len, "line %d: empty pattern", line);
        return NSC_ERR_INVALID;
    }
    if (len > PRIO_PATTERN_MAX) {
        snprintf(err, err_len, "line %d: regex of %zu bytes is longer than the limit of %d",
                 line, len, PRIO_PATTERN_MAX);
        return NSC_ERR_INVALID;
    }
    struct prio_entry *ne = realloc(pc->e, (pc->n + 1) * sizeof(*ne));
    if (!ne)
        return NSC_ERR_NOMEM;
    pc->e = ne;
    pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
    if (!cctx)
        return NSC_ERR_NOMEM;
    pcre2_set_max_pattern_length(cctx, PRIO_PATTERN_MAX);
    pcre2_set_parens_nest_limit(cctx, PRIO_PARENS_MAX);
    int code;
    PCRE2_SIZE off;
    /* \C could split a UTF-8 character; the rest follows RE2's defaults (no UCP). */
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C,
                                   &code, &off, cctx);
    pcre2_compile_context_free(cctx);
    if (!re) {
        PCRE2_UCHAR msg[160];
        if (code == PCRE2_ERROR_NOMEMORY)
            return NSC_ERR_NOMEM;
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", code);
        snprintf(err, err_len, "line %d: bad regex \"%.*s%s\": %s at offset %zu", line,
                 (int)(len > 80 ? 80 : len), pat, len > 80 ? "..." : "", (const char *)msg,
                 (size_t)off);
        return NSC_ERR_INVALID;
    }
    pc->e[pc->n].re = re;
    pc->e[pc->n].prio = prio;
    pc->e[pc->n].line = line;
    pc->n++;
    return 0;
}

/*
 * The ConfigMap's `priorities` value: a YAML map of integer -> list of regexes, written in
 * block style ("10:\n  - a.*\n") or flow style ("10: [a.*, b.*]").
 */
static int
prio_parse(const char *text, struct prio_config *pc, char *err, size_t err_len)
{
    memset(pc, 0, sizeof(*pc));
    long cur = 0;
    bool have = false;
    int line = 0;
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        line++;
        const char *s = p, *e = p + len;
        p = eol ? eol + 1 : NULL;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (s == e || *s == '#')
            continue;
        if (*s == '-') {
            if (!have) {
                snprintf(err, err_len, "line %d: list item before a priority", line);
                goto fail;
            }
            s++;
            while (s < e && isspace((unsigned char)*s))
                s++;
            int rc = prio_add(pc, cur, s, (size_t)(e - s), line, err, err_len);
            if (rc < 0) {
                prio_free(pc);
                return rc;
            }
            continue;
        }
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || *end != ':') {
            snprintf(err, err_len, "line %d: expected \"<integer>:\"", line);
            goto fail;
        }
        cur = v;
        have = true;
        const char *rest = end + 1;
        while (rest < e && isspace((unsigned char)*rest))
            rest++;
        if (rest < e) {
            if (*rest != '[' || e[-1] != ']') {
                snprintf(err, err_len, "line %d: expected a list of regexes", line);
                goto fail;
            }
            const char *q = rest + 1, *qe = e - 1;
            while (q < qe) {
                const char *comma = memchr(q, ',', (size_t)(qe - q));
                const char *ie = comma ? comma : qe;
                while (q < ie && isspace((unsigned char)*q))
                    q++;
                if (q < ie) {
                    int rc = prio_add(pc, cur, q, (size_t)(ie - q), line, err, err_len);
                    if (rc < 0) {
                        prio_free(pc);
                        return rc;
                    }
                }
                q = comma ? comma + 1 : qe;
            }
        }
    }
    /* The Go autoscaler refuses an empty configuration too: with nothing to match, every
     * group would pass and the operator's intent would silently be lost. Checked here so
     * that the check and the parser planning uses give one verdict. */
    if (pc->n == 0) {
        snprintf(err, err_len,
                 "no priority with a regex (want lines \"<integer>:\" each followed by "
                 "\"  - <regex>\" items)");
        goto fail;
    }
    /* Every match is bounded too: steps, backtracking depth and heap. */
    pc->mctx = pcre2_match_context_create(NULL);
    pc->md = pcre2_match_data_create(1, NULL);
    if (!pc->mctx || !pc->md) {
        prio_free(pc);
        return NSC_ERR_NOMEM;
    }
    pcre2_set_match_limit(pc->mctx, PRIO_MATCH_LIMIT);
    pcre2_set_depth_limit(pc->mctx, PRIO_DEPTH_LIMIT);
    pcre2_set_heap_limit(pc->mctx, PRIO_HEAP_LIMIT_KIB);
    return 0;
fail:
    prio_free(pc);
    return NSC_ERR_INVALID;
}

int
scaleup_priority_check(const char *config, char *err, size_t err_len)
{
    struct prio_config pc;
    int rc = prio_parse(config ? config : "", &pc, err, err_len);
    if (rc < 0)
        return rc;
    prio_free(&pc);
    return 0;
}

/* ---- filters: each keeps the best of the options still alive ---- */

static double
waste_score(const struct scaleup_option *o)
{
    double cpu = (double)o->node_cpu_m * o->node_count;
    double mem = (double)o->node_mem * o->node_count;
    double wc = cpu > 0 ? (cpu - (double)o->pods_cpu_m) / cpu : 0;
    double wm = mem > 0 ? (mem - (double)o->pods_mem) / mem : 0;
    return wc + wm;
}

static size_t
keep_best(const struct scaleup_option *opts, size_t *alive, size_t n_alive, int which)
{
    double best = 0;
    bool first = true;
    for (size_t i = 0; i < n_alive; i++) {
        const struct scaleup_option *o = &opts[alive[i]];
        double v = which == 0   ? -(double)o->n_pods
                   : which == 1 ? o->node_count
                                : waste_score(o);
        if (first || v < best - 1e-12) {
            best = v;
            first = false;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n_alive; i++) {
        const struct scaleup_option *o = &opts[alive[i]];
        double v = which == 0   ? -(double)o->n_pods
                   : which == 1 ? o->node_count
                                : waste_score(o);
        if (v <= best + 1e-12)
            alive[k++] = alive[i];
    }
    return k;
}

/*
 * Does entry j match s (unanchored, as Go's regexp.MatchString)? A match that runs into
 * the limits counts as no match, and says so.
 */
static bool
prio_match(const struct prio_config *pc, size_t j, const char *s)
{
    if (!s)
        return false;
    int rc = pcre2_match(pc->e[j].re, (PCRE2_SPTR)s, strlen(s), 0, 0, pc->md, pc->mctx);
    if (rc >= 0)
        return true;
    if (rc != PCRE2_ERROR_NOMATCH)
        log_msg(NSC_LOG_WARNING, "scaleup",
                "priority expander: the regex of line %d gave up on \"%.100s\" (PCRE2 error "
                "%d): counted as no match",
                pc->e[j].line, s, rc);
    return false;
}

static size_t
keep_priority(const struct scaleup_option *opts, size_t *alive, size_t n_alive,
              const struct prio_config *pc)
{
    long best = 0;
    bool any = false;
    long *prio = calloc(n_alive, sizeof(*prio));
    bool *matched = calloc(n_alive, sizeof(*matched));
    if (!prio || !matched) {
        free(prio);
        free(matched);
        return n_alive;
    }
    for (size_t i = 0; i < n_alive; i++) {
        for (size_t j = 0; j < pc->n; j++) {
            /* A group is named by its id and, when the backend gives one, its name. */
            const struct scaleup_option *o = &opts[alive[i]];
            if (!prio_match(pc, j, o->group_id) && !prio_match(pc, j, o->group_name))
                continue;
            if (!matched[i] || pc->e[j].prio > prio[i])
                prio[i] = pc->e[j].prio;
            matched[i] = true;
        }
        if (matched[i] && (!any || prio[i] > best)) {
            best = prio[i];
            any = true;
        }
    }
    size_t k = n_alive;
    if (any) {
        /* Unmatched groups are dropped; with no match at all everything passes. */
        k = 0;
        for (size_t i = 0; i < n_alive; i++)
            if (matched[i] && prio[i] == best)
                alive[k++] = alive[i];
    }
    free(prio);
    free(matched);
    return k;
}

size_t
scaleup_expand_parsed(const struct scaleup_option *opts, size_t n, const char *chain,
                      const struct scaleup_priorities *prio, uint64_t *rng)
{
    if (n == 0)
        return 0;
    size_t *alive = malloc(n * sizeof(*alive));
    if (!alive)
        return 0;
    for (size_t i = 0; i < n; i++)
        alive[i] = i;
    size_t n_alive = n;
    const char *p = chain && *chain ? chain : "least-waste";
    while (*p && n_alive > 1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 9 && strncmp(p, "most-pods", 9) == 0)
            n_alive = keep_best(opts, alive, n_alive, 0);
        else if (len == 11 && strncmp(p, "least-nodes", 11) == 0)
            n_alive = keep_best(opts, alive, n_alive, 1);
        else if (len == 11 && strncmp(p, "least-waste", 11) == 0)
            n_alive = keep_best(opts, alive, n_alive, 2);
        else if (len == 8 && strncmp(p, "priority", 8) == 0) {
            if (prio)
                n_alive = keep_priority(opts, alive, n_alive, &prio->pc);
        } else if (len == 6 && strncmp(p, "random", 6) == 0) {
            break; /* random picks among what is left, below */
        }
        p = comma ? comma + 1 : p + len;
    }
    size_t pick = n_alive ? alive[0] : 0;
    if (n_alive > 1)
        pick = alive[rng_next(rng) % n_alive];
    free(alive);
    return pick;
}

int
scaleup_priorities_new(const char *config, struct scaleup_priorities **out, char *err,
                       size_t err_len)
{
    *out = NULL;
    struct scaleup_priorities *p = malloc(sizeof(*p));
    if (!p)
        return NSC_ERR_NOMEM;
    int rc = prio_parse(config ? config : "", &p->pc, err, err_len);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void
scaleup_priorities_free(struct scaleup_priorities *p)
{
    if (!p)
        return;
    prio_free(&p->pc);
    free(p);
}

size_t
scaleup_expand(const struct scaleup_option *opts, size_t n, const char *chain,
               const char *priority_config, uint64_t *rng)
{
    struct scaleup_priorities *prio = NULL;
    char err[256];
    if (priority_config && scaleup_priorities_new(priority_config, &prio, err, sizeof(err)) < 0)
        prio = NULL; /* an invalid configuration leaves the priority step out */
    size_t pick = scaleup_expand_parsed(opts, n, chain, prio, rng);
    scaleup_priorities_free(prio);
    return pick;
}

int
scaleup_options_check(const struct scaleup_options *o, char *err, size_t err_len)
{
    const char *p = o->expander && *o->expander ? o->expander : "least-waste";
    bool has_priority = false;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        static const char *const known[] = {"random", "most-pods", "least-waste", "least-nodes",
                                            "priority"};
        bool ok = false;
        for (size_t i = 0; i < 5 && !ok; i++)
            ok = strlen(known[i]) == len && strncmp(p, known[i], len) == 0;
        if (!ok) {
            snprintf(err, err_len,
                     "--expander: unknown expander \"%.*s\" (known: random, most-pods, "
                     "least-waste, least-nodes, priority)",
                     (int)len, p);
            return NSC_ERR_INVALID;
        }
        if (len == 8 && strncmp(p, "priority", 8) == 0)
            has_priority = true;
        if (len == 6 && strncmp(p, "random", 6) == 0 && comma) {
            snprintf(err, err_len,
                     "--expander: random picks one option and cannot be followed by another");
            return NSC_ERR_INVALID;
        }
        p = comma ? comma + 1 : p + len;
    }
    if (has_priority) {
        if (!o->priority_config) {
            snprintf(err, err_len, "--expander=priority needs a priority configuration");
            return NSC_ERR_INVALID;
        }
        char why[384] = "out of memory";
        int rc = scaleup_priority_check(o->priority_config, why, sizeof(why));
        if (rc < 0) {
            snprintf(err, err_len, "priority expander configuration: %s", why);
            return rc;
        }
    }
    return 0;
}
