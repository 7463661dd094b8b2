/* Tolerant readers for the Exoscale objects we use (instance, instance pool, SKS cluster
 * and nodepool, instance type, operation, quota): unknown fields and enum values pass,
 * a missing or mistyped required field is an error naming the object and field. */
#include "config.h"

#include "exo.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
exo_is_uuid(const char *t)
{
    static const int dash_at[] = {8, 13, 18, 23};
    size_t i, d = 0;

    if (t == NULL || strlen(t) != 36)
        return false;
    for (i = 0; i < 36; i++) {
        if (d < 4 && (int)i == dash_at[d]) {
            if (t[i] != '-')
                return false;
            d++;
        } else if (!isxdigit((unsigned char)t[i])) {
            return false;
        }
    }
    return true;
}

/* Copy an optional string field; absent or null gives NULL, another type is an error. */
static int
opt_str(const json_t *obj, const char *field, char **out, const char *what, char *err,
        size_t err_len)
{
    const json_t *v = json_object_get(obj, field);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return NSC_OK;
    if (!json_is_string(v)) {
        snprintf(err, err_len, "%s: field \"%s\" is not a string", what, field);
        return NSC_ERR_INTERNAL;
    }
    *out = strdup(json_string_value(v));
    return *out ? NSC_OK : NSC_ERR_NOMEM;
}

static int
req_id(const json_t *obj, char **out, const char *what, char *err, size_t err_len)
{
    int rc = opt_str(obj, "id", out, what, err, err_len);

    if (rc < 0)
        return rc;
    if (*out == NULL || (*out)[0] == '\0') {
        free(*out);
        *out = NULL;
        snprintf(err, err_len, "%s: required field \"id\" is missing", what);
        return NSC_ERR_INTERNAL;
    }
    return NSC_OK;
}

/* An int64 field; absent gives dflt. */
static int
opt_int(const json_t *obj, const char *field, int64_t dflt, int64_t *out, const char *what,
        char *err, size_t err_len)
{
    const json_t *v = json_object_get(obj, field);

    *out = dflt;
    if (v == NULL || json_is_null(v))
        return NSC_OK;
    if (!json_is_integer(v)) {
        snprintf(err, err_len, "%s: field \"%s\" is not an integer", what, field);
        return NSC_ERR_INTERNAL;
    }
    *out = json_integer_value(v);
    return NSC_OK;
}

/* An int64 field that must lie in [lo, hi]; absent or null gives dflt (which may lie
 * outside, as a "not given" mark). */
static int
int_in(const json_t *obj, const char *field, int64_t dflt, int64_t lo, int64_t hi, int64_t *out,
       const char *what, char *err, size_t err_len)
{
    int rc = opt_int(obj, field, dflt, out, what, err, err_len);

    if (rc < 0)
        return rc;
    if (json_object_get(obj, field) != NULL && !json_is_null(json_object_get(obj, field)) &&
        (*out < lo || *out > hi)) {
        snprintf(err, err_len, "%s: field \"%s\" is %lld; expected %lld to %lld", what, field,
                 (long long)*out, (long long)lo, (long long)hi);
        return NSC_ERR_INTERNAL;
    }
    return NSC_OK;
}

/* A group's "size" decides what a scale sends, so it is never guessed: a missing, null,
 * mistyped or out-of-range value leaves *size at -1 and a description in *problem
 * (owned), and the caller keeps the object so that the group stays visible. */
static int
group_size(const json_t *obj, const char *what, const char *id, int64_t *size, char **problem)
{
    const json_t *v = json_object_get(obj, "size");
    char text[200];

    *size = -1;
    *problem = NULL;
    if (v == NULL || json_is_null(v))
        snprintf(text, sizeof(text), "%s %s: field \"size\" is %s", what, id,
                 v == NULL ? "missing" : "null");
    else if (!json_is_integer(v))
        snprintf(text, sizeof(text), "%s %s: field \"size\" is not an integer", what, id);
    else if (json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
        snprintf(text, sizeof(text), "%s %s: field \"size\" is %lld; expected 0 to %d", what,
                 id, (long long)json_integer_value(v), INT32_MAX);
    else {
        *size = json_integer_value(v);
        return NSC_OK;
    }
    *problem = strdup(text);
    return *problem ? NSC_OK : NSC_ERR_NOMEM;
}

/* The "id" of a reference object such as "instance-type": {"id": ...}. */
static int
ref_id(const json_t *obj, const char *field, char **out, const char *what, char *err,
       size_t err_len)
{
    const json_t *v = json_object_get(obj, field);
    char ctx[128];

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return NSC_OK;
    if (!json_is_object(v)) {
        snprintf(err, err_len, "%s: field \"%s\" is not an object", what, field);
        return NSC_ERR_INTERNAL;
    }
    snprintf(ctx, sizeof(ctx), "%s.%s", what, field);
    return opt_str(v, "id", out, ctx, err, err_len);
}

static int
opt_map(const json_t *obj, const char *field, json_t **out, const char *what, char *err,
        size_t err_len)
{
    json_t *v = json_object_get(obj, field);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return NSC_OK;
    if (!json_is_object(v)) {
        snprintf(err, err_len, "%s: field \"%s\" is not an object", what, field);
        return NSC_ERR_INTERNAL;
    }
    *out = json_incref(v);
    return NSC_OK;
}

static int
check_obj(const json_t *j, const char *what, char *err, size_t err_len)
{
    if (!json_is_object(j)) {
        snprintf(err, err_len, "%s: expected a JSON object", what);
        return NSC_ERR_INTERNAL;
    }
    return NSC_OK;
}

enum exo_istate
exo_istate_parse(const char *t)
{
    static const struct {
        const char *name;
        enum exo_istate state;
    } map[] = {{"starting", EXO_ISTATE_STARTING},
               {"running", EXO_ISTATE_RUNNING},
               {"stopping", EXO_ISTATE_STOPPING},
               {"stopped", EXO_ISTATE_STOPPED},
               {"destroying", EXO_ISTATE_DESTROYING},
               {"destroyed", EXO_ISTATE_DESTROYED},
               {"expunging", EXO_ISTATE_EXPUNGING},
               {"migrating", EXO_ISTATE_MIGRATING},
               {"error", EXO_ISTATE_ERROR}};
    size_t i;

    if (t == NULL)
        return EXO_ISTATE_UNKNOWN;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(t, map[i].name) == 0)
            return map[i].state;
    }
    return EXO_ISTATE_UNKNOWN;
}

/* A state text that is never NULL ("" when the field is absent). */
static int
state_text(const json_t *j, char **out, const char *what, char *err, size_t err_len)
{
    int rc = opt_str(j, "state", out, what, err, err_len);

    if (rc == NSC_OK && *out == NULL) {
        *out = strdup("");
        if (*out == NULL)
            rc = NSC_ERR_NOMEM;
    }
    return rc;
}

int
exo_parse_instance(const json_t *j, struct exo_instance *out, char *err, size_t err_len)
{
    const json_t *mgr;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_obj(j, "instance", err, err_len)) < 0 ||
        (rc = req_id(j, &out->id, "instance", err, err_len)) < 0 ||
        (rc = opt_str(j, "name", &out->name, "instance", err, err_len)) < 0 ||
        (rc = state_text(j, &out->state_text, "instance", err, err_len)) < 0)
        goto fail;
    out->state = exo_istate_parse(out->state_text);
    mgr = json_object_get(j, "manager");
    if (mgr != NULL && json_is_object(mgr)) {
        if ((rc = opt_str(mgr, "id", &out->manager_id, "instance.manager", err, err_len)) < 0 ||
            (rc = opt_str(mgr, "type", &out->manager_type, "instance.manager", err, err_len)) <
                0)
            goto fail;
    }
    return NSC_OK;
fail:
    exo_instance_clear(out);
    return rc;
}

void
exo_instance_clear(struct exo_instance *v)
{
    free(v->id);
    free(v->name);
    free(v->state_text);
    free(v->manager_id);
    free(v->manager_type);
    memset(v, 0, sizeof(*v));
}

int
exo_parse_pool(const json_t *j, struct exo_pool *out, char *err, size_t err_len)
{
    const json_t *members, *m, *mgr;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_obj(j, "instance-pool", err, err_len)) < 0 ||
        (rc = req_id(j, &out->id, "instance-pool", err, err_len)) < 0 ||
        (rc = opt_str(j, "name", &out->name, "instance-pool", err, err_len)) < 0 ||
        (rc = state_text(j, &out->state, "instance-pool", err, err_len)) < 0 ||
        (rc = group_size(j, "instance-pool", out->id, &out->size, &out->size_problem)) < 0 ||
        (rc = int_in(j, "disk-size", 0, 0, EXO_DISK_MAX_GIB, &out->disk_size_gib,
                     "instance-pool", err, err_len)) < 0 ||
        (rc = ref_id(j, "instance-type", &out->type_id, "instance-pool", err, err_len)) < 0 ||
        (rc = opt_map(j, "labels", &out->labels, "instance-pool", err, err_len)) < 0)
        goto fail;
    mgr = json_object_get(j, "manager");
    if (mgr != NULL && json_is_object(mgr)) {
        if ((rc = opt_str(mgr, "id", &out->manager_id, "instance-pool.manager", err, err_len)) <
                0 ||
            (rc = opt_str(mgr, "type", &out->manager_type, "instance-pool.manager", err,
                          err_len)) < 0)
            goto fail;
    }
    members = json_object_get(j, "instances");
    if (members != NULL && !json_is_null(members)) {
        if (!json_is_array(members)) {
            snprintf(err, err_len, "instance-pool %s: field \"instances\" is not an array",
                     out->id);
            rc = NSC_ERR_INTERNAL;
            goto fail;
        }
        out->member_ids = calloc(json_array_size(members) + 1, sizeof(char *));
        if (out->member_ids == NULL) {
            rc = NSC_ERR_NOMEM;
            goto fail;
        }
        json_array_foreach(members, i, m)
        {
            if ((rc = req_id(m, &out->member_ids[out->n_members], "instance-pool.instances[]",
                             err, err_len)) < 0)
                goto fail;
            out->n_members++;
        }
    }
    return NSC_OK;
fail:
    exo_pool_clear(out);
    return rc;
}

void
exo_pool_clear(struct exo_pool *v)
{
    size_t i;

    free(v->id);
    free(v->name);
    free(v->state);
    for (i = 0; i < v->n_members; i++)
        free(v->member_ids[i]);
    free(v->member_ids);
    free(v->manager_id);
    free(v->manager_type);
    free(v->type_id);
    free(v->size_problem);
    json_decref(v->labels);
    memset(v, 0, sizeof(*v));
}

int
exo_parse_nodepool(const json_t *j, struct exo_nodepool *out, char *err, size_t err_len)
{
    const char *what = "sks-nodepool";
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_obj(j, what, err, err_len)) < 0 ||
        (rc = req_id(j, &out->id, what, err, err_len)) < 0 ||
        (rc = opt_str(j, "name", &out->name, what, err, err_len)) < 0 ||
        (rc = state_text(j, &out->state, what, err, err_len)) < 0 ||
        (rc = group_size(j, what, out->id, &out->size, &out->size_problem)) < 0 ||
        (rc = int_in(j, "disk-size", 0, 0, EXO_DISK_MAX_GIB, &out->disk_size_gib, what, err,
                     err_len)) < 0 ||
        (rc = ref_id(j, "instance-pool", &out->pool_id, what, err, err_len)) < 0 ||
        (rc = ref_id(j, "instance-type", &out->type_id, what, err, err_len)) < 0 ||
        (rc = opt_map(j, "labels", &out->labels, what, err, err_len)) < 0 ||
        (rc = opt_map(j, "taints", &out->taints, what, err, err_len)) < 0)
        goto fail;
    return NSC_OK;
fail:
    exo_nodepool_clear(out);
    return rc;
}

void
exo_nodepool_clear(struct exo_nodepool *v)
{
    free(v->id);
    free(v->name);
    free(v->state);
    free(v->pool_id);
    free(v->type_id);
    free(v->size_problem);
    json_decref(v->labels);
    json_decref(v->taints);
    memset(v, 0, sizeof(*v));
}

int
exo_parse_cluster(const json_t *j, struct exo_cluster *out, char *err, size_t err_len)
{
    const json_t *nps, *np;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_obj(j, "sks-cluster", err, err_len)) < 0 ||
        (rc = req_id(j, &out->id, "sks-cluster", err, err_len)) < 0 ||
        (rc = opt_str(j, "name", &out->name, "sks-cluster", err, err_len)) < 0 ||
        (rc = state_text(j, &out->state, "sks-cluster", err, err_len)) < 0)
        goto fail;
    nps = json_object_get(j, "nodepools");
    if (nps != NULL && !json_is_null(nps)) {
        if (!json_is_array(nps)) {
            snprintf(err, err_len, "sks-cluster %s: field \"nodepools\" is not an array",
                     out->id);
            rc = NSC_ERR_INTERNAL;
            goto fail;
        }
        out->nodepools = calloc(json_array_size(nps) + 1, sizeof(*out->nodepools));
        if (out->nodepools == NULL) {
            rc = NSC_ERR_NOMEM;
            goto fail;
        }
        json_array_foreach(nps, i, np)
        {
            if ((rc = exo_parse_nodepool(np, &out->nodepools[out->n_nodepools], err, err_len)) <
                0)
                goto fail;
            out->n_nodepools++;
        }
    }
    return NSC_OK;
fail:
    exo_cluster_clear(out);
    return rc;
}

void
exo_cluster_clear(struct exo_cluster *v)
{
    size_t i;

    free(v->id);
    free(v->name);
    free(v->state);
    for (i = 0; i < v->n_nodepools; i++)
        exo_nodepool_clear(&v->nodepools[i]);
    free(v->nodepools);
    memset(v, 0, sizeof(*v));
}

int
exo_parse_itype(const json_t *j, struct exo_itype *out, char *err, size_t err_len)
{
    const char *what = "instance-type";
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_obj(j, what, err, err_len)) < 0 ||
        (rc = req_id(j, &out->id, what, err, err_len)) < 0 ||
        (rc = opt_str(j, "family", &out->family, what, err, err_len)) < 0 ||
        (rc = opt_str(j, "size", &out->size, what, err, err_len)) < 0 ||
        (rc = int_in(j, "cpus", -1, 1, EXO_CPUS_MAX, &out->cpus, what, err, err_len)) < 0 ||
        (rc = int_in(j, "gpus", 0, 0, EXO_GPUS_MAX, &out->gpus, what, err, err_len)) < 0 ||
        (rc = int_in(j, "memory", -1, 1, EXO_MEMORY_MAX_BYTES, &out->memory_bytes, what, err,
                     err_len)) < 0)
        goto fail;
    /* A template without cpu or memory would let any pod "fit": refuse it. */
    if (out->cpus <= 0 || out->memory_bytes <= 0 || out->gpus < 0) {
        snprintf(err, err_len,
                 "instance-type %s: cpus, memory and gpus must be present and "
                 "positive (cpus %lld, memory %lld, gpus %lld)",
                 out->id, (long long)out->cpus, (long long)out->memory_bytes,
                 (long long)out->gpus);
        rc = NSC_ERR_INTERNAL;
        goto fail;
    }
    return NSC_OK;
fail:
    exo_itype_clear(out);
    return rc;
}

void
exo_itype_clear(struct exo_itype *v)
{
    free(v->id);
    free(v->family);
    free(v->size);
    memset(v, 0, sizeof(*v));
}

int
exo_parse_operation(const json_t *j, struct exo_operation *out, char *err, size_t err_len)
{
    const char *what = "operation";
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_obj(j, what, err, err_len)) < 0 ||
        (rc = req_id(j, &out->id, what, err, err_len)) < 0 ||
        (rc = state_text(j, &out->state_text, what, err, err_len)) < 0 ||
        (rc = opt_str(j, "reason", &out->reason, what, err, err_len)) < 0 ||
        (rc = opt_str(j, "message", &out->message, what, err, err_len)) < 0)
        goto fail;
    if (strcmp(out->state_text, "pending") == 0)
        out->state = EXO_OP_PENDING;
    else if (strcmp(out->state_text, "success") == 0)
        out->state = EXO_OP_SUCCESS;
    else if (strcmp(out->state_text, "failure") == 0)
        out->state = EXO_OP_FAILURE;
    else if (strcmp(out->state_text, "timeout") == 0)
        out->state = EXO_OP_TIMEOUT;
    else
        out->state = EXO_OP_UNKNOWN;
    return NSC_OK;
fail:
    exo_operation_clear(out);
    return rc;
}

void
exo_operation_clear(struct exo_operation *v)
{
    free(v->id);
    free(v->state_text);
    free(v->reason);
    free(v->message);
    memset(v, 0, sizeof(*v));
}

int
exo_parse_quota(const json_t *j, struct exo_quota *out, char *err, size_t err_len)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_obj(j, "quota", err, err_len)) < 0 ||
        (rc = int_in(j, "usage", 0, 0, INT32_MAX, &out->usage, "quota", err, err_len)) < 0 ||
        (rc = int_in(j, "limit", -2, -1, INT32_MAX, &out->limit, "quota", err, err_len)) < 0)
        return rc;
    if (out->limit < -1) {
        snprintf(err, err_len, "quota: field \"limit\" is missing or below -1");
        return NSC_ERR_INTERNAL;
    }
    return NSC_OK;
}
