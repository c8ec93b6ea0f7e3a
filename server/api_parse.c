/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_parse.c - request body parsers of the HTTP API (cJSON), apart from the handlers in
 * http_api.c so they can be fuzzed on their own.
 */
#include "api_parse.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Judge a JSON number token (valid JSON syntax: cJSON accepted it) exactly, on its digits, not
 * on the double cJSON made of it (2^53 + 1 and 2^53 are the same double): 0 a whole number of
 * magnitude at most API_JSON_INT_MAX (1e+15 and 2.0 are whole), 1 not a whole number (1.5,
 * 1e-3), 2 a whole number beyond API_JSON_INT_MAX.
 */
static int judge_number(const char *t, size_t n)
{
    char digits[64];
    size_t nd = 0, sig = 0, frac = 0, i = 0;
    bool in_frac = false, nonzero_dropped = false;
    long exp = 0;
    if (i < n && t[i] == '-') i++;
    for (; i < n && t[i] != 'e' && t[i] != 'E'; i++) {
        if (t[i] == '.') {
            in_frac = true;
            continue;
        }
        if (in_frac) frac++;
        if (sig == 0 && t[i] == '0') continue; /* leading zeros say nothing */
        sig++;
        if (nd < sizeof(digits)) digits[nd++] = t[i];
        else if (t[i] != '0') nonzero_dropped = true;
    }
    if (i < n) { /* the exponent: e, an optional sign, digits (clamped far beyond any use) */
        bool neg = t[++i] == '-';
        if (i < n && (t[i] == '-' || t[i] == '+')) i++;
        for (; i < n; i++)
            if (exp < 100000) exp = exp * 10 + (t[i] - '0');
        if (neg) exp = -exp;
    }
    if (sig == 0) return 0; /* zero, however written */
    /* value = digits * 10^scale; its integer part has sig + exp - frac digits */
    if ((long)sig + exp - (long)frac > 16) return 2;
    if (nonzero_dropped) return 1; /* at most 16 integer digits, then nonzero ones */
    long scale = exp - (long)frac + (long)(sig - nd);
    while (scale < 0 && nd > 0 && digits[nd - 1] == '0') { /* 2.0, 20e-1 */
        nd--;
        scale++;
    }
    if (scale < 0) return 1;
    char whole[17];
    memcpy(whole, digits, nd);
    memset(whole + nd, '0', (size_t)scale);
    whole[nd + (size_t)scale] = '\0';
    return strlen(whole) == 16 && strcmp(whole, "9007199254740991") > 0 ? 2 : 0;
}

/*
 * What cJSON does not judge, checked on the raw text of a body cJSON accepted (so its syntax is
 * known to be valid JSON and only strings and numbers need looking at):
 *  - a \u0000 escape in a string: cJSON would cut the string there ("vdev-0001\u0000x" would
 *    become "vdev-0001");
 *  - a number that is not a whole number, or is beyond API_JSON_INT_MAX (judge_number): every
 *    number of the API is an id, a count or seconds, and 2^53 + 1 would silently become 2^53
 *    as a double.
 * The member the offending value belongs to is the last key seen (the bodies are flat objects
 * of scalars and arrays of strings). Returns 0, or 400 with one sentence in err.
 */
static int check_raw(const uint8_t *b, size_t len, char *err, size_t cap)
{
    char key[48] = "";
    size_t i = 0;
    while (i < len) {
        if (b[i] == '"') {
            size_t start = ++i;
            bool nul = false;
            while (i < len && b[i] != '"') {
                if (b[i] == '\0') nul = true; /* a raw NUL byte cuts the string too */
                if (b[i] == '\\' && i + 1 < len) {
                    if (b[i + 1] == 'u' && i + 5 < len && memcmp(b + i + 2, "0000", 4) == 0)
                        nul = true;
                    i++;
                }
                i++;
            }
            size_t end = i++;
            size_t j = i;
            while (j < len && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r')) j++;
            bool is_key = j < len && b[j] == ':';
            if (nul) {
                if (is_key)
                    snprintf(err, cap, "a member name holds \\u0000 (a NUL character), which no "
                             "name may contain");
                else
                    snprintf(err, cap, "\"%s\" holds a string with \\u0000 (a NUL character), "
                             "which no id or name may contain", key[0] ? key : "(top level)");
                return 400;
            }
            if (is_key) {
                size_t n = end - start < sizeof(key) - 1 ? end - start : sizeof(key) - 1;
                memcpy(key, b + start, n);
                key[n] = '\0';
                for (size_t k = 0; k < n; k++) /* only printable ASCII goes into the sentence */
                    if (key[k] < 0x20 || key[k] > 0x7e || key[k] == '"' || key[k] == '\\')
                        key[k] = '?';
            }
            continue;
        }
        if (b[i] == '-' || (b[i] >= '0' && b[i] <= '9')) {
            size_t start = i;
            while (i < len && b[i] && strchr("0123456789.eE+-", b[i])) i++;
            int shown = (int)(i - start < 24 ? i - start : 24);
            int kind = judge_number((const char *)b + start, i - start);
            if (kind != 0) {
                snprintf(err, cap, kind == 1 ? "\"%s\" is %.*s%s, which is not a whole number" :
                         "\"%s\" is %.*s%s, beyond 9007199254740991 (2^53 - 1), the largest whole "
                         "number a JSON number holds exactly", key[0] ? key : "(top level)",
                         shown, (const char *)b + start, i - start > 24 ? "..." : "");
                return 400;
            }
            continue;
        }
        i++;
    }
    return 0;
}

int api_parse__json(const uint8_t *body, size_t len, const char *shape, cJSON **out, char *err,
                    size_t err_cap)
{
    const char *end = NULL;
    *out = NULL;
    cJSON *j = len ? cJSON_ParseWithLengthOpts((const char *)body, len, &end, 0) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        snprintf(err, err_cap, "%s", shape);
        return 400;
    }
    size_t at = (size_t)(end - (const char *)body);
    while (at < len && (body[at] == ' ' || body[at] == '\t' || body[at] == '\n' ||
                        body[at] == '\r'))
        at++;
    /* cJSON stops at a NUL byte and reports its end there: anything left is not JSON. */
    if (at < len) {
        cJSON_Delete(j);
        snprintf(err, err_cap, "%zu byte%s follow%s the JSON object (from byte %zu); send the "
                 "object alone", len - at, len - at == 1 ? "" : "s", len - at == 1 ? "s" : "", at);
        return 400;
    }
    int st = check_raw(body, len, err, err_cap);
    if (st != 0) {
        cJSON_Delete(j);
        return st;
    }
    *out = j;
    return 0;
}

void api_parse__deployment_free(api_deployment_body_t *b)
{
    free(b->devices);
    cJSON_Delete(b->json);
    memset(b, 0, sizeof(*b));
}

/* Fail with status and one sentence; frees what was parsed so far. */
static int refuse(api_deployment_body_t *b, int status, char *err, size_t cap, const char *msg)
{
    api_parse__deployment_free(b);
    snprintf(err, cap, "%s", msg);
    return status;
}

int api_parse__deployment(const uint8_t *body, size_t len, api_deployment_body_t *out,
                          char *err, size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    cJSON *j = NULL;
    int st = api_parse__json(body, len, "the body must be a JSON object like "
                             "{\"release\": 2, \"devices\": [\"vdev-0001\"]} or "
                             "{\"release\": 2, \"all\": true}", &j, err, err_cap);
    if (st != 0) return st;
    out->json = j;
    cJSON *rel = cJSON_GetObjectItemCaseSensitive(j, "release");
    cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    cJSON *all = cJSON_GetObjectItemCaseSensitive(j, "all");
    cJSON *filter = cJSON_GetObjectItemCaseSensitive(j, "filter");
    /* Range first: converting a double outside int64_t's range (1e300, inf) to int64_t is
     * undefined behaviour (found by fuzz_deploy_body and fuzz_api); NaN fails the range. */
    double v = cJSON_IsNumber(rel) ? rel->valuedouble : 0.0;
    if (!(v >= 1.0 && v <= API_RELEASE_ID_MAX) || v != (double)(int64_t)v)
        return refuse(out, 400, err, err_cap,
                      "\"release\" must be a release id (a positive integer)");
    out->release_id = (int64_t)v;
    out->all = all && cJSON_IsTrue(all);
    if (all && !cJSON_IsBool(all))
        return refuse(out, 400, err, err_cap, "\"all\" must be true or false");
    if (filter && (!cJSON_IsString(filter) || !filter->valuestring[0]))
        return refuse(out, 400, err, err_cap, "\"filter\" must be a filter expression such as "
                      "\"group=lab\" (docs/API.md \"Filters\")");
    if ((devs != NULL) + out->all + (filter != NULL) > 1)
        return refuse(out, 400, err, err_cap,
                      devs && out->all ? "give either \"devices\" or \"all\": true, not both" :
                      "give one of \"devices\", \"all\": true and \"filter\", not two");
    if (!devs && !out->all && !filter)
        return refuse(out, 400, err, err_cap,
                      "name the devices with \"devices\": [...], select them with \"filter\": "
                      "\"...\" or use \"all\": true");
    if (filter) out->filter = filter->valuestring;
    cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "activate");
    if (act && (!cJSON_IsString(act) || (strcmp(act->valuestring, "now") != 0 &&
                                         strcmp(act->valuestring, "hold") != 0)))
        return refuse(out, 400, err, err_cap, "\"activate\" must be \"now\" (devices reboot into "
                      "the release once it is verified) or \"hold\" (they hold it until "
                      "activated)");
    out->hold = act && strcmp(act->valuestring, "hold") == 0;
    if (!devs) return 0;
    if (!cJSON_IsArray(devs))
        return refuse(out, 400, err, err_cap, "\"devices\" must be an array of device ids");
    size_t n = (size_t)cJSON_GetArraySize(devs);
    if (n == 0)
        return refuse(out, 400, err, err_cap, "\"devices\" is empty; name at least one device");
    out->devices = calloc(n, sizeof(*out->devices));
    if (!out->devices) return refuse(out, 500, err, err_cap, "out of memory");
    cJSON *it;
    cJSON_ArrayForEach(it, devs)
    {
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return refuse(out, 400, err, err_cap,
                          "\"devices\" must hold device ids (non-empty strings)");
        out->devices[out->n_devices++] = it->valuestring;
    }
    return 0;
}

void api_parse__provision_free(api_provision_body_t *b)
{
    free(b->devices);
    cJSON_Delete(b->json);
    memset(b, 0, sizeof(*b));
}

int api_parse__provision(const uint8_t *body, size_t len, size_t max, api_provision_body_t *out,
                         char *err, size_t err_cap)
{
    static const char shape[] = "the body must be a JSON object like {\"devices\": "
                                "[\"vdev-0001\", \"vdev-0002\"]} (and \"replace\": true to "
                                "provision existing devices again)";
    memset(out, 0, sizeof(*out));
    cJSON *j = NULL;
    int status = api_parse__json(body, len, shape, &j, err, err_cap);
    if (status != 0) return status;
    out->json = j;
    cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    cJSON *replace = cJSON_GetObjectItemCaseSensitive(j, "replace");
    const char *msg = NULL;
    if (!devs || !cJSON_IsArray(devs)) {
        status = 400;
        msg = shape;
    } else if (replace && !cJSON_IsBool(replace)) {
        status = 400;
        msg = "\"replace\" must be true or false";
    } else if (cJSON_GetArraySize(devs) < 1 || (size_t)cJSON_GetArraySize(devs) > max) {
        status = 400;
        snprintf(err, err_cap, "\"devices\" must name 1 to %zu devices", max);
    } else if (!(out->devices = calloc((size_t)cJSON_GetArraySize(devs), sizeof(*out->devices)))) {
        status = 500;
        msg = "out of memory";
    } else {
        cJSON *it;
        cJSON_ArrayForEach(it, devs)
        {
            if (!cJSON_IsString(it) || !it->valuestring[0]) {
                status = 400;
                msg = "\"devices\" must hold device ids (non-empty strings)";
                break;
            }
            out->devices[out->n_devices++] = it->valuestring;
        }
        out->replace = cJSON_IsTrue(replace);
    }
    if (status != 0) {
        if (msg) snprintf(err, err_cap, "%s", msg);
        api_parse__provision_free(out);
    }
    return status;
}

int api_parse__activate(const uint8_t *body, size_t len, api_deployment_body_t *out, char *err,
                        size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    if (len == 0) return 0; /* no body: every held target */
    cJSON *j = NULL;
    int st = api_parse__json(body, len, "the body must be empty, {} or a JSON object like "
                             "{\"devices\": [\"vdev-0001\"]}", &j, err, err_cap);
    if (st != 0) return st;
    out->json = j;
    cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    if (!devs) return 0;
    if (!cJSON_IsArray(devs) || cJSON_GetArraySize(devs) == 0)
        return refuse(out, 400, err, err_cap, "\"devices\" must be a non-empty array of device "
                      "ids; leave it out to activate every held target");
    out->devices = calloc((size_t)cJSON_GetArraySize(devs), sizeof(*out->devices));
    if (!out->devices) return refuse(out, 500, err, err_cap, "out of memory");
    cJSON *it;
    cJSON_ArrayForEach(it, devs)
    {
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return refuse(out, 400, err, err_cap,
                          "\"devices\" must hold device ids (non-empty strings)");
        out->devices[out->n_devices++] = it->valuestring;
    }
    return 0;
}
