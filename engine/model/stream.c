/* Streaming List loader: cuts each element of a List's "items" array out of the byte
 * stream and parses it alone, so a 450,000-pod kubectl dump never exists as one tree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model/model.h"
#include "model/parse_util.h"
#include "model/scan.h"

struct splitter {
    int depth;
    bool in_str, esc;
    /* Top-level key tracking. */
    bool want_key; /* next string at depth 1 is a key */
    char key[16];  /* last top-level key (truncated) */
    size_t key_len;
    bool key_ok;    /* key fits in key[] */
    bool in_items;  /* inside the top-level "items" array */
    bool value_str; /* collecting the top-level "kind" string value */
    char kind[128];
    size_t kind_len;
    /* The item being collected. */
    char *item;
    size_t item_len, item_cap;
    bool collecting;
    size_t item_start_depth;
    bool top_done; /* the top-level value ended: only whitespace may follow */
};

/* Bytes the splitter acts on outside strings below the top level (',' and ':' matter
 * only at the top level). */
static const bool tok_stop[256] = {
    ['"'] = true, ['{'] = true, ['}'] = true, ['['] = true, [']'] = true};

/* True when one of the eight bytes at p is '"' or a backslash. */
static inline bool
quote_or_backslash(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t w, q, b;
    memcpy(&w, p, 8);
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
}

struct pending_item {
    json_t **v;
    uint32_t *index; /* each one's place in "items" */
    size_t n, cap;
};

static int
append(struct splitter *sp, const char *b, size_t n)
{
    if (sp->item_len + n > sp->item_cap) {
        size_t ncap = sp->item_cap ? sp->item_cap : 65536;
        while (ncap < sp->item_len + n)
            ncap *= 2;
        char *ni = realloc(sp->item, ncap);
        if (!ni)
            return NSC_ERR_NOMEM;
        sp->item = ni;
        sp->item_cap = ncap;
    }
    memcpy(sp->item + sp->item_len, b, n);
    sp->item_len += n;
    return 0;
}

/* Bytes of the document outside the items, kept in a buffer that grows as needed. */
static int
keep_bytes(char **buf, size_t *len, size_t *cap, const char *b, size_t n)
{
    if (*len + n > *cap) {
        size_t ncap = *cap ? *cap : 1 << 20;
        while (ncap < *len + n)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        if (!nb)
            return NSC_ERR_NOMEM;
        *buf = nb;
        *cap = ncap;
    }
    if (n)
        memcpy(*buf + *len, b, n);
    *len += n;
    return 0;
}

static int
upsert_counted(struct model *m, json_t *it, const char *kind, struct model_load_stats *st)
{
    int rc = model_upsert(m, it, kind);
    if (rc == NSC_ERR_NOMEM)
        return rc;
    if (rc == NSC_ERR_NOT_IMPLEMENTED)
        st->n_ignored++;
    else if (rc < 0)
        st->n_skipped++;
    else
        model_count_kind(st, kind ? kind : json_string_value(json_object_get(it, "kind")));
    return 0;
}

/* One complete item: upsert it from its text, or keep its (pruned) tree until the List's
 * kind is known. */
static int
item_done(struct model *m, struct splitter *sp, struct pending_item *pend,
          struct model_load_stats *st, size_t index, char *err, size_t err_len)
{
    char hint[128], why[300] = "";
    json_t *it = NULL;
    bool typed = sp->kind_len > 4 && strcmp(sp->kind + sp->kind_len - 4, "List") == 0;
    if (typed)
        snprintf(hint, sizeof(hint), "%.*s", (int)(sp->kind_len - 4), sp->kind);
    m->load_item = (uint32_t)index;
    int rc = model_ingest_text(m, sp->item, sp->item_len, typed ? hint : NULL, &it, st, why,
                               sizeof(why));
    sp->item_len = 0;
    if (rc == 0 && m->load_dup) {
        snprintf(err, err_len, "%s", m->load_dup);
        return NSC_ERR_INVALID;
    }
    if (rc == NSC_ERR_INVALID) {
        snprintf(err, err_len, "items[%zu]: %s", index, why);
        return rc;
    }
    if (rc < 0) {
        snprintf(err, err_len, "items[%zu]: %s", index, why[0] ? why : "out of memory");
        return rc;
    }
    if (!it)
        return 0;
    if (pend->n == pend->cap) {
        size_t ncap = pend->cap ? pend->cap * 2 : 64;
        json_t **nv = realloc(pend->v, ncap * sizeof(*nv));
        if (nv)
            pend->v = nv;
        uint32_t *ni = nv ? realloc(pend->index, ncap * sizeof(*ni)) : NULL;
        if (!ni) {
            json_decref(it);
            return NSC_ERR_NOMEM;
        }
        pend->index = ni;
        pend->cap = ncap;
    }
    pend->index[pend->n] = (uint32_t)index;
    pend->v[pend->n++] = it;
    return 0;
}

int
model_load_stream(struct model *m, FILE *f, const char *name, struct model_load_stats *stats,
                  char *err, size_t err_len)
{
    return model_load_stream_max(m, f, name, MODEL_LOAD_MAX_BYTES, stats, err, err_len);
}

int
model_load_stream_max(struct model *m, FILE *f, const char *name, uint64_t max_bytes,
                      struct model_load_stats *stats, char *err, size_t err_len)
{
    struct splitter sp;
    struct smap seen;
    struct pending_item pend = {0};
    struct model_load_stats st = {0};
    memset(&sp, 0, sizeof(sp));
    char *buf = malloc(1 << 20);
    char inner[400] = "";
    size_t n_items = 0, offset = 0;
    int rc = 0;
    bool saw_items = false;
    json_t *whole = NULL;
    if (!buf)
        return NSC_ERR_NOMEM;
    bool own_check = model_load_begin(m, &seen);
    /* The document without its items, each replaced by "{}": a single object whole, and
     * a List's own members, which must be valid JSON as much as its items. */
    char *top = NULL;
    size_t top_len = 0, top_cap = 0;
    size_t got;
    while ((got = fread(buf, 1, 1 << 20, f)) > 0) {
        /* Start of this chunk's bytes of the item being collected, or when none is, of
         * the bytes outside the items. */
        size_t run_start = 0;
        if (offset + got > max_bytes) {
            snprintf(err, err_len,
                     "%s: larger than the size limit of %llu bytes for a cluster snapshot",
                     name, (unsigned long long)max_bytes);
            rc = NSC_ERR_INVALID;
            goto out;
        }
        for (size_t i = 0; i < got; i++) {
            if (sp.depth == 0) {
                /* Outside the document only whitespace: anything else (a NUL of
                 * /dev/zero, text after the object) would otherwise be skipped for ever. */
                char b = buf[i];
                if (b == ' ' || b == '\t' || b == '\n' || b == '\r')
                    continue;
                if (sp.top_done || b != '{') {
                    bool value = !sp.top_done && strchr("[\"-0123456789tfn", b) && b;
                    snprintf(err, err_len, "%s: %s at byte %zu%s", name,
                             value ? "not a JSON object" : "not JSON", offset + i,
                             sp.top_done ? " (after the end of the document)" : "");
                    rc = NSC_ERR_INVALID;
                    goto out;
                }
            }
            /* Outside the top level only brackets and strings matter: skip to them. */
            if (sp.collecting || sp.depth != 1) {
                const unsigned char *u = (const unsigned char *)buf;
                if (!sp.in_str) {
                    /* Indentation first, eight spaces at a time. */
                    while (i + 8 <= got && memcmp(u + i, "        ", 8) == 0)
                        i += 8;
                    while (i < got && !tok_stop[u[i]])
                        i++;
                    if (i < got && u[i] == '"') {
                        /* A whole string here: its bytes are only carried along. */
                        size_t j = i + 1;
                        for (;;) {
                            while (j + 8 <= got && !quote_or_backslash(u + j))
                                j += 8;
                            while (j < got && u[j] != '"' && u[j] != '\\')
                                j++;
                            if (j < got && u[j] == '\\' && j + 1 < got) {
                                j += 2;
                                continue;
                            }
                            break;
                        }
                        if (j < got && u[j] == '"') {
                            i = j;
                            continue;
                        }
                        /* It goes on in the next chunk. */
                        sp.in_str = true;
                        sp.esc = j < got; /* ends on a backslash */
                        i = got;
                        break;
                    }
                } else if (!sp.esc) {
                    while (i + 8 <= got && !quote_or_backslash(u + i))
                        i += 8;
                    while (i < got && u[i] != '"' && u[i] != '\\')
                        i++;
                }
                if (i == got)
                    break;
            }
            char c = buf[i];
            if (sp.in_str) {
                if (sp.esc)
                    sp.esc = false;
                else if (c == '\\')
                    sp.esc = true;
                else if (c == '"')
                    sp.in_str = false;
                if (!sp.collecting && sp.depth == 1) {
                    if (sp.in_str || c != '"') {
                        if (sp.want_key) {
                            if (sp.key_len < sizeof(sp.key) - 1)
                                sp.key[sp.key_len++] = c;
                            else
                                sp.key_ok = false;
                        } else if (sp.value_str && sp.kind_len < sizeof(sp.kind) - 1) {
                            sp.kind[sp.kind_len++] = c;
                        }
                    } else {
                        sp.key[sp.key_len] = 0;
                        sp.kind[sp.kind_len] = 0;
                        sp.value_str = false;
                    }
                }
                continue;
            }
            switch (c) {
            case '"':
                sp.in_str = true;
                if (!sp.collecting && sp.depth == 1) {
                    if (sp.want_key) {
                        sp.key_len = 0;
                        sp.key_ok = true;
                    } else if (sp.key_ok && strcmp(sp.key, "kind") == 0) {
                        sp.value_str = true;
                        sp.kind_len = 0;
                    }
                }
                break;
            case ':':
                if (!sp.collecting && sp.depth == 1)
                    sp.want_key = false;
                break;
            case ',':
                if (!sp.collecting && sp.depth == 1)
                    sp.want_key = true;
                break;
            case '{':
            case '[':
                if (sp.in_items && sp.depth == 2 && c == '{') {
                    if ((rc = keep_bytes(&top, &top_len, &top_cap, buf + run_start,
                                         i - run_start)) < 0 ||
                        (rc = keep_bytes(&top, &top_len, &top_cap, "{}", 2)) < 0)
                        goto out;
                    sp.collecting = true;
                    run_start = i;
                    sp.item_len = 0;
                }
                sp.depth++;
                if (sp.depth == 1) {
                    if (c != '{') {
                        snprintf(err, err_len, "%s: not a JSON object", name);
                        rc = NSC_ERR_INVALID;
                        goto out;
                    }
                    sp.want_key = true;
                }
                if (sp.depth == 2 && c == '[' && sp.key_ok && strcmp(sp.key, "items") == 0) {
                    sp.in_items = true;
                    saw_items = true;
                }
                break;
            case '}':
            case ']':
                sp.depth--;
                if (sp.depth < 0) {
                    snprintf(err, err_len, "%s: unbalanced brackets at byte %zu", name,
                             offset + i);
                    rc = NSC_ERR_INVALID;
                    goto out;
                }
                if (sp.collecting && sp.depth == 2) {
                    if ((rc = append(&sp, buf + run_start, i + 1 - run_start)) < 0)
                        goto out;
                    sp.collecting = false;
                    rc = item_done(m, &sp, &pend, &st, n_items++, inner, sizeof(inner));
                    if (rc < 0) {
                        snprintf(err, err_len, "%s: %s", name, inner);
                        goto out;
                    }
                    run_start = i + 1;
                }
                if (sp.depth == 1 && sp.in_items && c == ']')
                    sp.in_items = false;
                if (sp.depth == 0)
                    sp.top_done = true;
                break;
            default:
                break;
            }
        }
        if (sp.collecting)
            rc = append(&sp, buf + run_start, got - run_start);
        else
            rc = keep_bytes(&top, &top_len, &top_cap, buf + run_start, got - run_start);
        if (rc < 0)
            goto out;
        offset += got;
    }
    if (ferror(f)) {
        snprintf(err, err_len, "%s: read error", name);
        rc = NSC_ERR_INVALID;
        goto out;
    }
    if (!sp.top_done) {
        snprintf(err, err_len, "%s: %s", name,
                 sp.depth ? "truncated JSON (ends inside a value)" : "empty document");
        rc = NSC_ERR_INVALID;
        goto out;
    }
    if (sp.depth != 0 || sp.in_str) {
        snprintf(err, err_len, "%s: truncated JSON (ends inside a value)", name);
        rc = NSC_ERR_INVALID;
        goto out;
    }
    if (!saw_items) {
        json_error_t jerr;
        whole = json_loadb(top ? top : "", top_len, 0, &jerr);
        if (!whole) {
            snprintf(err, err_len, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
            rc = NSC_ERR_INVALID;
            goto out;
        }
        rc = model_load_json(m, whole, &st, inner, sizeof(inner));
        if (rc < 0)
            snprintf(err, err_len, "%s: %s", name, inner);
        goto out;
    }
    /* The splitter reads only brackets and strings: the List's own members are checked
     * by the scanner, which builds no tree, so that a malformed List is refused as
     * jansson would refuse it. */
    struct scan_result envelope = {0};
    rc = scan_item(top, top_len, false, &envelope, inner, sizeof(inner));
    scan_result_free(&envelope);
    if (rc < 0) {
        if (rc == NSC_ERR_INVALID)
            snprintf(err, err_len,
                     "%s: invalid JSON outside the items (%s, counting each item "
                     "as {})",
                     name, inner);
        else
            snprintf(err, err_len, "%s: out of memory", name);
        goto out;
    }
    if (!sp.kind_len) {
        snprintf(err, err_len, "%s: field kind: missing: not a Kubernetes List", name);
        rc = NSC_ERR_INVALID;
        goto out;
    }
    /* Items of a typed list (NodeList...) that came before the list's kind. */
    char item_kind[128] = "";
    if (sp.kind_len > 4 && strcmp(sp.kind + sp.kind_len - 4, "List") == 0)
        snprintf(item_kind, sizeof(item_kind), "%.*s", (int)(sp.kind_len - 4), sp.kind);
    for (size_t i = 0; i < pend.n; i++) {
        if (!item_kind[0]) {
            log_msg(NSC_LOG_WARNING, "model", "skipping an item of %s: field kind: missing",
                    name);
            st.n_skipped++;
            continue;
        }
        m->load_item = pend.index[i];
        if ((rc = upsert_counted(m, pend.v[i], item_kind, &st)) < 0)
            goto out;
        if (m->load_dup) {
            snprintf(err, err_len, "%s: %s", name, m->load_dup);
            rc = NSC_ERR_INVALID;
            goto out;
        }
    }
out:
    for (size_t i = 0; i < pend.n; i++)
        json_decref(pend.v[i]);
    free(pend.v);
    free(pend.index);
    if (own_check)
        model_load_end(m, &seen);
    json_decref(whole);
    free(top);
    free(sp.item);
    free(buf);
    if (rc == 0 && stats)
        *stats = st;
    return rc;
}
