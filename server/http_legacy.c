/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_legacy.c - POST /api/v1/legacy-devices (docs/API.md "Legacy devices"): register a
 * device that speaks a legacy protocol (docs/LEGACY.md). The request is parsed and checked
 * here; legacy__register() (legacy.c) and the protocol's adapter judge the parameters.
 */
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "api_parse.h"
#include "http_api.h"
#include "legacy.h"
#include "mqota/mqota_image.h"

#define API "/api/v1"

bool http_legacy__json_body(const char *method, const char *path)
{
    return strcmp(method, "POST") == 0 && strcmp(path, API "/legacy-devices") == 0;
}

/* A device id as broker usernames take them: 1..48 of [A-Za-z0-9_.-]. */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* name without '-', lowercase, into out (cap bytes): "ESP32-S3" and "esp32s3" compare equal. */
static void chip_key(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    for (; *name && n + 1 < cap; name++)
        if (*name != '-') out[n++] = (char)(*name >= 'A' && *name <= 'Z' ? *name + 32 : *name);
    out[n] = '\0';
}

/* The chip id named name (mqota_chip_name()'s names, or the same without '-', any case).
 * 0, or -1. */
static int chip_by_name(const char *name, uint16_t *out)
{
    char want[32], have[32];
    chip_key(name, want, sizeof(want));
    for (unsigned id = 0; id < 64; id++) {
        chip_key(mqota_chip_name((uint16_t)id), have, sizeof(have));
        if (strcmp(have, want) == 0 && strcmp(have, "unknown") != 0) {
            *out = (uint16_t)id;
            return 0;
        }
    }
    return -1;
}

/* A printable version of at most 31 bytes. */
static bool version_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > 31) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) return false;
    return true;
}

/* A legacy device's broker identity from a registration (params.mqtt_user, mqtt_password). */
typedef struct {
    char user[64];
    char password[AUTH_LEGACY_PASSWORD_MAX + 1];
    char old_user[64]; /* its identity so far, "" if none */
    bool has_user;
} identity_t;

/* Take params.mqtt_password out of params (it is never stored: the broker keeps its hash),
 * read params.mqtt_user and the identity the device has now, and judge them
 * (auth__legacy_check()). 0, or -1 with one sentence in err. */
static int identity_take(mqotad_t *d, const char *id, db_protocol_t p, cJSON *params,
                         identity_t *out, char *err, size_t cap)
{
    cJSON *pw = cJSON_DetachItemFromObjectCaseSensitive(params, "mqtt_password");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(params, "mqtt_user");
    legacy_dev_t *old = legacy__find(d, id);
    const cJSON *ou = old ? cJSON_GetObjectItemCaseSensitive(old->params, "mqtt_user") : NULL;
    int rc = -1;
    if ((user && (!cJSON_IsString(user) || strlen(user->valuestring) >= sizeof(out->user))) ||
        (pw && (!cJSON_IsString(pw) || strlen(pw->valuestring) >= sizeof(out->password)))) {
        snprintf(err, cap, "params.mqtt_user must be 1 to 48 letters, digits, '.', '_' or '-' and "
                 "params.mqtt_password 1 to %d printable ASCII characters",
                 AUTH_LEGACY_PASSWORD_MAX);
        goto out;
    }
    out->has_user = user != NULL;
    if (user) snprintf(out->user, sizeof(out->user), "%s", user->valuestring);
    if (pw) snprintf(out->password, sizeof(out->password), "%s", pw->valuestring);
    if (cJSON_IsString(ou)) snprintf(out->old_user, sizeof(out->old_user), "%s", ou->valuestring);
    rc = auth__legacy_check(d, id, p, params, user ? out->user : NULL, pw ? out->password : NULL,
                            out->old_user[0] ? out->old_user : NULL, err, cap);
out:
    if (cJSON_IsString(pw)) OPENSSL_cleanse(pw->valuestring, strlen(pw->valuestring));
    cJSON_Delete(pw);
    return rc;
}

/* After a registration: the device's broker identity and ACL lines replace its old ones and
 * the embedded broker rereads them. 0 or -1. */
static int identity_apply(mqotad_t *d, const char *id, const identity_t *in)
{
    if (auth__legacy_identity(d, in->has_user ? in->user : NULL,
                              in->has_user ? in->password : NULL,
                              in->old_user[0] ? in->old_user : NULL) != 0)
        return -1;
    broker__reload(d);
    if (in->has_user)
        mqh_log(MQH_INFO, "legacy device %s has the broker identity '%s' (its own topics only)",
                id, in->user);
    return 0;
}

/* POST /api/v1/legacy-devices {"id", "protocol", "chip", "version"?, "params"?} */
static void post_legacy(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    char err[300];
    cJSON *j = NULL;
    int st = api_parse__json(req->body, req->body_len, "the body must be a JSON object "
                             "{\"id\", \"protocol\", \"chip\", \"version\", \"params\"}",
                             &j, err, sizeof(err));
    if (st != 0) {
        api__error(res, st, err);
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *proto = cJSON_GetObjectItemCaseSensitive(j, "protocol");
    const cJSON *chip = cJSON_GetObjectItemCaseSensitive(j, "chip");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(j, "version");
    cJSON *params = cJSON_DetachItemFromObjectCaseSensitive(j, "params");
    db_protocol_t p;
    uint16_t chip_id = 0;
    identity_t ident = {0};
    if (!cJSON_IsString(id) || !id_ok(id->valuestring)) {
        api__error(res, 400, "\"id\" must be 1 to 48 letters, digits, '.', '_' or '-': the id the "
                   "device will have in the registry (and as an mqota agent after a migration)");
    } else if (!cJSON_IsString(proto) || db__protocol_parse(proto->valuestring, &p) != 0 ||
               !legacy__adapter(p)) {
        api__error(res, 400, "\"protocol\" must be a legacy protocol this mqotad drives: b64, "
                   "md5, pull or tcp (docs/LEGACY.md)");
    } else if (!cJSON_IsString(chip) || chip_by_name(chip->valuestring, &chip_id) != 0) {
        api__error(res, 400, "\"chip\" must name the device's chip (esp32, esp32s2, esp32s3, "
                   "esp32c3, ...): images of other chips are never sent to it");
    } else if (version && (!cJSON_IsString(version) || !version_ok(version->valuestring))) {
        api__error(res, 400, "\"version\" must be the version the device runs now, printable "
                   "text of at most 31 bytes");
    } else if (identity_take(d, id->valuestring, p, params, &ident, err, sizeof(err)) != 0) {
        api__error(res, 400, err);
    } else {
        if (!params) params = cJSON_CreateObject();
        st = legacy__register(d, id->valuestring, p, chip_id,
                              version ? version->valuestring : NULL, params, err, sizeof(err));
        params = NULL; /* taken */
        if (st == 0 && identity_apply(d, id->valuestring, &ident) != 0) {
            api__error(res, 500, "the device is registered but the broker's password and ACL "
                       "files could not be written; register it again");
        } else if (st != 0) {
            api__error(res, st, err);
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", id->valuestring);
            cJSON_AddStringToObject(o, "protocol", db__protocol_name(p));
            cJSON_AddStringToObject(o, "chip", mqota_chip_name(chip_id));
            cJSON *pj = legacy__params_json(d, id->valuestring);
            if (pj) cJSON_AddItemToObject(o, "params", pj);
            api__json(res, 201, o);
        }
    }
    OPENSSL_cleanse(ident.password, sizeof(ident.password));
    cJSON_Delete(params);
    cJSON_Delete(j);
}

bool http_legacy__route(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    if (strcmp(req->path, API "/legacy-devices") != 0) return false;
    if (strcmp(req->method, "POST") == 0) post_legacy(d, req, res);
    else api__method_not_allowed(res, req->method, req->path, "POST");
    return true;
}
